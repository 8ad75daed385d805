"""Pooling one model's fits across imputations.

With one data set (no imputation, ``m = 0``) pooling is the identity. With ``m >= 2`` fits:

* fixed effects: Rubin's rules with Barnard–Rubin (1999) df (:mod:`mlmpipe.missing.rubin`); the
  complete-data df is each fit's own (Satterthwaite) df averaged over imputations, or infinite when
  the backend reports none;
* variance components: standard deviations averaged on the log scale and correlations on Fisher's
  z scale (scales on which the sampling distribution is closer to normal; Rubin 1987, sec. 3.1);
  covariances are rebuilt from the pooled SDs and correlation;
* ICC of each grouping factor: averaged on the logit scale;
* conditional modes (``ranef``): averaged, their conditional SDs combined by Rubin's rule;
  ``optimizer`` is the first imputation's (the others are in their own fit files);
* log-likelihood, AIC, BIC, deviance: the mean over imputations (for display only); the
  per-imputation log-likelihoods are kept so that likelihood-ratio tests can be pooled with D2
  (:func:`mlmpipe.missing.rubin.pool_d2`) by the comparison step.
"""

from __future__ import annotations

import numpy as np

from mlmpipe.missing.rubin import pool_d2, pool_point, pool_scalar
from mlmpipe.record import FitRecord, FixedEffect, Pooling, RanefBlock, VarCorr


def _check_same_model(fits: list[FitRecord]) -> None:
    terms = [fit.fixed_terms for fit in fits]
    if len(set(terms)) != 1:
        raise ValueError(
            "pooling: the imputations gave different fixed-effect terms "
            f"({terms[0]} vs {next(t for t in terms if t != terms[0])}); a column was dropped in "
            "some imputation"
        )


def _pool_fixed(fits: list[FitRecord], alpha: float) -> tuple[FixedEffect, ...]:
    names = fits[0].fixed_terms
    q = np.array([[f.estimate for f in fit.fixed] for fit in fits])
    u = np.array([[f.se**2 for f in fit.fixed] for fit in fits])
    dfs = np.array(
        [[np.nan if f.df is None else f.df for f in fit.fixed] for fit in fits], dtype=float
    )
    finite = np.isfinite(dfs).all(axis=0)  # a GLMM's Wald z has no df: infinite dfcom
    dfcom = np.full(len(names), np.inf)
    dfcom[finite] = np.nanmean(dfs[:, finite], axis=0)
    res = pool_scalar(q, u, dfcom, alpha)
    return tuple(
        FixedEffect(
            term=term,
            estimate=float(res["estimate"][i]),
            se=float(res["se"][i]),
            df=float(res["df"][i]),
            t=float(res["statistic"][i]),
            p=float(res["p"][i]),
            ci_low=float(res["ci_low"][i]),
            ci_high=float(res["ci_high"][i]),
            dfcom=float(dfcom[i]),
            ubar=float(res["ubar"][i]),
            b=float(res["b"][i]),
            riv=float(res["riv"][i]),
            lambda_=float(res["lambda"][i]),
            fmi=float(res["fmi"][i]),
        )
        for i, term in enumerate(names)
    )


def _pool_random(fits: list[FitRecord]) -> tuple[VarCorr, ...]:
    keys = [(r.group, r.term1, r.term2) for r in fits[0].random]
    sd = {}
    out = []
    for k in keys:
        vals = np.array(
            [next(r.sdcor for r in fit.random if (r.group, r.term1, r.term2) == k) for fit in fits],
            dtype=float,
        )
        if k[2] is None:
            p = pool_point(vals, "log")
            sd[(k[0], k[1])] = p["estimate"]
            vcov = p["estimate"] ** 2
        else:
            p = pool_point(np.clip(vals, -1.0, 1.0), "fisher_z")
            vcov = p["estimate"] * sd[(k[0], k[1])] * sd[(k[0], k[2])]
        out.append(
            VarCorr(
                group=k[0],
                term1=k[1],
                term2=k[2],
                vcov=float(vcov),
                sdcor=float(p["estimate"]),
                pooling_scale=p["scale"],
                between=p["between"],
                boundary_imputations=p["boundary_imputations"],
            )
        )
    return tuple(out)


def _pool_ranef(fits: list[FitRecord]) -> dict[str, RanefBlock]:
    """Conditional modes averaged over imputations; conditional SDs combined by Rubin's rule
    (mean conditional variance + (1 + 1/m) x between-imputation variance of the modes)."""
    m = len(fits)
    out = {}
    for g, first in fits[0].ranef.items():
        vals = np.array([f.ranef[g].values for f in fits], dtype=float)
        sds = np.array([f.ranef[g].condsd for f in fits], dtype=float)
        total = (sds**2).mean(axis=0) + (1 + 1 / m) * vals.var(axis=0, ddof=1)
        out[g] = RanefBlock(first.levels, first.terms, vals.mean(axis=0), np.sqrt(total))
    return out


def _pool_icc(fits: list[FitRecord]) -> dict:
    per = [f.intraclass_correlations() for f in fits]
    return {g: pool_point(np.clip([d[g] for d in per], 1e-12, 1 - 1e-12), "logit") for g in per[0]}


def pool_fits(fits: list[FitRecord], alpha: float = 0.05) -> FitRecord:
    """Pool the fits of one model (one estimator) across imputations; see the module docstring."""
    if len(fits) == 1:
        return fits[0].replace(pooling=Pooling("identity", 1))
    _check_same_model(fits)
    first = fits[0]
    ranef = (
        _pool_ranef(fits)
        if all(f.ranef and all(b.condsd is not None for b in f.ranef.values()) for f in fits)
        else {}
    )
    random = _pool_random(fits)
    # a GLMM has no residual variance component (its sigma is the fixed 1 of the link scale)
    residual = [r.sdcor for r in random if r.group == "Residual"]
    notes = {
        "df": "Barnard-Rubin (1999); complete-data df = mean per-imputation df",
        "variance_components": "SD on log scale, correlations on Fisher z scale",
        "icc": "logit scale",
        "lrt": "D2 (Li, Meng, Raghunathan & Rubin 1991)",
        "singular_imputations": int(sum(f.singular for f in fits)),
        "nonconverged_imputations": int(sum(not f.converged for f in fits)),
    }
    return first.replace(
        fixed=_pool_fixed(fits, alpha),
        random=random,
        ranef=ranef,
        loglik=float(np.mean([f.loglik for f in fits])),
        aic=float(np.mean([f.aic for f in fits])),
        bic=float(np.mean([f.bic for f in fits])),
        deviance=float(np.mean([f.deviance for f in fits])),
        sigma=residual[0] if residual else first.sigma,
        converged=all(f.converged for f in fits),
        singular=any(f.singular for f in fits),
        warnings=tuple(sorted({w for f in fits for w in f.warnings})),
        # not a pooled estimate: the mean theta is kept only as a start value for refits
        theta=None if first.theta is None else np.mean([f.theta for f in fits], axis=0),
        # the pooled beta and Rubin's total covariance T = W + (1 + 1/m) B (Rubin 1987, 3.1)
        beta=_pooled_beta(fits),
        vcov=_pooled_vcov(fits),
        pooling=Pooling(
            "rubin",
            len(fits),
            notes,
            loglik_imputations=tuple(float(f.loglik) for f in fits),
            icc=_pool_icc(fits),
        ),
    )


def _pooled_beta(fits: list[FitRecord]) -> np.ndarray:
    return np.mean([[r.estimate for r in f.fixed] for f in fits], axis=0)


def _pooled_vcov(fits: list[FitRecord]) -> np.ndarray | None:
    """Rubin's total covariance of the pooled fixed effects, ``W + (1 + 1/m) B``."""
    if any(f.vcov is None for f in fits):
        return None
    m = len(fits)
    q = np.array([[r.estimate for r in f.fixed] for f in fits])
    within = np.mean([f.vcov for f in fits], axis=0)
    between = np.cov(q, rowvar=False, ddof=1).reshape(within.shape)
    return within + (1 + 1 / m) * between


def pooled_lrt(a: FitRecord, b: FitRecord, kind: str) -> dict:
    """Likelihood-ratio test of pooled fit ``a`` against pooled fit ``b``: the per-imputation
    statistics ``2 (l_b - l_a)`` combined with D2, referred to ``F(k, nu2)``. For added random
    effects the boundary (chi-bar-square) correction has no D2 analogue; the F reference is
    conservative there and the result says so."""
    chisq = 2.0 * (np.array(b.pooling.loglik_imputations) - np.array(a.pooling.loglik_imputations))
    k = int(b.npar - a.npar)
    d2 = pool_d2(chisq, k)
    out = {
        "chisq": d2["statistic"] * k,
        "df": k,
        "p": d2["p"],
        "reference": f"D2 F({k}, {d2['df2']:.1f}) over {len(chisq)} imputations",
        "d2": d2,
    }
    if kind == "random":
        out["note_pooling"] = "D2 without the boundary correction (conservative)"
    return out
