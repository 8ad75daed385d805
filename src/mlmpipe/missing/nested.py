"""Combining fits over plausible values (PVs) and, within each PV, multiple imputations of missing
covariates: the nested-imputation rules (Shen 2000; Rubin 2003, Statistica Neerlandica 57(1);
Reiter & Raghunathan 2007, JASA 102(480)).

``M`` first-stage draws (the plausible values) each carry ``N`` second-stage imputations (the
covariates imputed conditional on that PV). For a scalar with estimates ``q_mn`` and squared SEs
``u_mn``:

* ``qbar = mean(q)``, ``ubar = mean(u)``, ``qbar_m = mean_n q_mn``;
* between-PV variance ``B = sum_m (qbar_m - qbar)^2 / (M - 1)``;
* within-PV (between-imputation) variance ``W = sum_mn (q_mn - qbar_m)^2 / (M (N - 1))``;
* total variance ``T = ubar + (1 + 1/M) B + (1 - 1/N) W``;
* degrees of freedom ``1/nu = ((1 + 1/M) B)^2 / ((M - 1) T^2) + ((1 - 1/N) W)^2 / (M (N - 1) T^2)``
  (Rubin 2003, eq. 3.3); with a finite complete-data df, the observed-data df
  ``nu_obs = (nu_com + 1) / (nu_com + 3) nu_com (1 - lambda)`` is combined with it as in
  Barnard & Rubin (1999): ``1/nu_total = 1/nu + 1/nu_obs``;
* fractions of missing information: ``lambda = ((1 + 1/M) B + (1 - 1/N) W) / T``, split into the
  part due to the PVs, ``(1 + 1/M) B / T``, and due to the imputations, ``(1 - 1/N) W / T``
  (Harel 2007, the rates of missing information of the two stages).

With ``N = 1`` (PVs, no imputation) these are Rubin's rules over the PVs
(:func:`mlmpipe.missing.rubin.pool_scalar`). Likelihood-ratio tests are combined with D2 over all
``M N`` statistics (Li, Meng, Raghunathan & Rubin 1991): an approximation under nesting, which has
no D2 analogue in the literature; the record says so.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from mlmpipe.missing.pool import pool_fits
from mlmpipe.missing.rubin import pool_scalar
from mlmpipe.record import FitRecord, FixedEffect, Pooling


def pool_nested_scalar(
    q: np.ndarray, u: np.ndarray, dfcom: np.ndarray | float = np.inf, alpha: float = 0.05
) -> dict[str, np.ndarray]:
    """Pool estimates ``q`` and squared SEs ``u`` of shape ``(M, N, p)`` (or ``(M, N)``) by the
    nested rules; returns arrays of length p (see the module docstring for the formulas):
    estimate, se, ubar, between_pv (B), within_pv (W), t, df, lambda, fmi_pv, fmi_imputation,
    statistic, p, ci_low, ci_high."""
    q = np.asarray(q, float)
    u = np.asarray(u, float)
    if q.ndim == 2:
        q, u = q[..., None], u[..., None]
    if q.shape != u.shape:
        raise ValueError(f"estimates {q.shape} and variances {u.shape} differ in shape")
    big_m, n = q.shape[0], q.shape[1]
    if big_m < 2:
        raise ValueError(f"nested pooling needs at least 2 plausible values, got {big_m}")
    if n < 2:
        raise ValueError(f"nested pooling needs at least 2 imputations per value, got {n}")
    qbar_m = q.mean(axis=1)
    qbar = qbar_m.mean(axis=0)
    ubar = u.mean(axis=(0, 1))
    b = ((qbar_m - qbar) ** 2).sum(axis=0) / (big_m - 1)
    w = ((q - qbar_m[:, None, :]) ** 2).sum(axis=(0, 1)) / (big_m * (n - 1))
    part_b = (1.0 + 1.0 / big_m) * b
    part_w = (1.0 - 1.0 / n) * w
    t = ubar + part_b + part_w
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = part_b**2 / ((big_m - 1) * t**2) + part_w**2 / (big_m * (n - 1) * t**2)
        df = np.where(inv > 0, 1.0 / inv, np.inf)
        lam = (part_b + part_w) / t
        dfcom = np.broadcast_to(np.asarray(dfcom, float), qbar.shape)
        dfobs = (dfcom + 1.0) / (dfcom + 3.0) * dfcom * (1.0 - lam)
        df = np.where(np.isfinite(dfcom), 1.0 / (1.0 / df + 1.0 / dfobs), df)
    se = np.sqrt(t)
    stat = qbar / se
    crit = stats.t.ppf(1.0 - alpha / 2.0, df)
    return {
        "estimate": qbar,
        "se": se,
        "ubar": ubar,
        "between_pv": b,
        "within_pv": w,
        "t": t,
        "df": df,
        "lambda": lam,
        "fmi_pv": part_b / t,
        "fmi_imputation": part_w / t,
        "statistic": stat,
        "p": 2.0 * stats.t.sf(np.abs(stat), df),
        "ci_low": qbar - crit * se,
        "ci_high": qbar + crit * se,
    }


def _dfcom(fits: list[FitRecord]) -> np.ndarray:
    dfs = np.array(
        [[np.nan if f.df is None else f.df for f in fit.fixed] for fit in fits], dtype=float
    )
    out = np.full(dfs.shape[1], np.inf)
    finite = np.isfinite(dfs).all(axis=0)
    out[finite] = dfs[:, finite].mean(axis=0)
    return out


def _point_parts(values: np.ndarray, big_m: int, n: int) -> dict[str, float]:
    """Between-PV and within-PV variance of a point-pooled parameter (on its pooling scale)."""
    v = np.asarray(values, float).reshape(big_m, n)
    means = v.mean(axis=1)
    within = float(((v - means[:, None]) ** 2).sum() / (big_m * (n - 1))) if n > 1 else 0.0
    return {"between_pv": float(means.var(ddof=1)), "within_pv": within}


def pool_plausible_values(
    fits: list[FitRecord], n_pv: int, m: int, alpha: float = 0.05
) -> FitRecord:
    """Pool one model's fits over ``n_pv`` plausible values x ``m`` imputations (fits ordered PV
    by PV: fit ``(k - 1) m + j`` is imputation ``j`` of PV ``k``). ``m = 1``: Rubin's rules over
    the PVs (:func:`mlmpipe.missing.pool.pool_fits`); ``m >= 2``: the nested rules for the fixed
    effects (module docstring), the rest pooled as over imputations. The record's pooling notes
    give the number of PVs and imputations and, per fixed effect, the between-PV and
    between-imputation variances and fractions of missing information."""
    if len(fits) != n_pv * m:
        raise ValueError(f"pooling: expected {n_pv} x {m} fits, got {len(fits)}")
    flat = pool_fits(fits, alpha)
    names = flat.fixed_terms
    q = np.array([[f.estimate for f in fit.fixed] for fit in fits])
    u = np.array([[f.se**2 for f in fit.fixed] for fit in fits])
    dfcom = _dfcom(fits)
    if m == 1:
        res = pool_scalar(q, u, dfcom, alpha)
        parts = {
            term: {
                "ubar": float(res["ubar"][i]),
                "between_pv": float(res["b"][i]),
                "within_pv": 0.0,
                "fmi": float(res["fmi"][i]),
                "fmi_pv": float(res["lambda"][i]),
                "fmi_imputation": 0.0,
            }
            for i, term in enumerate(names)
        }
        fixed = flat.fixed
        vcov = flat.vcov
        rule = "Rubin (1987) over the plausible values, Barnard-Rubin (1999) df"
    else:
        res = pool_nested_scalar(q.reshape(n_pv, m, -1), u.reshape(n_pv, m, -1), dfcom, alpha)
        fixed = tuple(
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
                b=float(res["t"][i] - res["ubar"][i]),
                riv=float((res["t"][i] - res["ubar"][i]) / res["ubar"][i]),
                lambda_=float(res["lambda"][i]),
                fmi=float(res["lambda"][i]),
            )
            for i, term in enumerate(names)
        )
        parts = {
            term: {
                "ubar": float(res["ubar"][i]),
                "between_pv": float(res["between_pv"][i]),
                "within_pv": float(res["within_pv"][i]),
                "fmi": float(res["lambda"][i]),
                "fmi_pv": float(res["fmi_pv"][i]),
                "fmi_imputation": float(res["fmi_imputation"][i]),
            }
            for i, term in enumerate(names)
        }
        vcov = _nested_vcov(fits, n_pv, m)
        rule = "nested imputation (Rubin 2003; Reiter & Raghunathan 2007)"
    random_parts = {}
    for r in flat.random:  # SDs on the log scale, correlations on Fisher's z (as pool_fits)
        key = (r.group, r.term1, r.term2)
        vals = np.array(
            [next(x.sdcor for x in f.random if (x.group, x.term1, x.term2) == key) for f in fits]
        )
        if r.term2 is None:
            z = np.log(np.clip(vals, 1e-12, None))
        else:
            z = np.arctanh(np.clip(vals, -0.999999, 0.999999))
        random_parts[":".join(k for k in key if k)] = _point_parts(z, n_pv, m)
    notes = dict(flat.pooling.notes) | {
        "combining": rule,
        "plausible_values": n_pv,
        "imputations_per_value": m,
        "lrt": f"D2 over all {n_pv * m} statistics (approximate under nesting)"
        if m > 1
        else "D2 (Li, Meng, Raghunathan & Rubin 1991) over the plausible values",
        "fixed_parts": parts,
        "variance_component_parts": random_parts,
    }
    pooling = Pooling(
        "rubin",
        len(fits),
        notes,
        loglik_imputations=flat.pooling.loglik_imputations,
        icc=flat.pooling.icc,
    )
    return flat.replace(fixed=fixed, vcov=vcov, pooling=pooling)


def _nested_vcov(fits: list[FitRecord], n_pv: int, m: int) -> np.ndarray | None:
    """``Ubar + (1 + 1/M) B + (1 - 1/N) W`` as matrices (the multivariate nested rule)."""
    if any(f.vcov is None for f in fits):
        return None
    q = np.array([[r.estimate for r in f.fixed] for f in fits]).reshape(n_pv, m, -1)
    ubar = np.mean([f.vcov for f in fits], axis=0)
    means = q.mean(axis=1)
    dev_b = means - means.mean(axis=0)
    b = dev_b.T @ dev_b / (n_pv - 1)
    dev_w = (q - means[:, None, :]).reshape(n_pv * m, -1)
    w = dev_w.T @ dev_w / (n_pv * (m - 1))
    return ubar + (1 + 1 / n_pv) * b + (1 - 1 / m) * w
