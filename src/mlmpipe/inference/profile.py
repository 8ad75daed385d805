"""Profile-likelihood confidence intervals for the standard deviations of a linear mixed model.

For a parameter psi (a random-effect SD or the residual SD sigma), the profiled deviance
``d_p(psi) = min over the other variance parameters of d(theta, sigma | psi)`` (beta profiled out
in the penalized least-squares solution; the REML criterion for REML fits) gives the interval

    {psi : d_p(psi) - d(theta_hat, sigma_hat) <= chi^2_1(level)}

(Venzon & Moolgavkar 1988; Bates et al. 2015, J. Stat. Softw. 67(1), sec. 5.1, the method of
lme4's ``confint(method = "profile")``). With ``sd_k = sigma theta_k`` for a scalar random-effects
term k, fixing sd_k leaves the minimization over sigma and the other theta. Terms with several
random effects (random slopes) are not profiled here: their SDs are not single theta entries; use
the parametric bootstrap for them. The lower limit is 0 when the deviance at sd = 0 is within the
bound.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize, stats


def _inner(fun, x0: np.ndarray, bounds: list) -> float:
    if len(x0) == 0:
        return float(fun(x0))
    if len(x0) == 1:
        lo, hi = bounds[0]
        r = optimize.minimize_scalar(
            lambda v: fun(np.array([v])),
            bounds=(lo, hi),
            method="bounded",
            options={"xatol": 1e-10},
        )
        return float(r.fun)
    r = optimize.minimize(fun, x0, method="L-BFGS-B", bounds=bounds, options={"ftol": 1e-14})
    return float(r.fun)


def _interval(prof, est: float, d0: float, crit: float, zero_ok: bool) -> tuple[float, float]:
    """Roots of ``prof(v) - d0 - crit`` on each side of ``est`` (lower 0 when allowed and inside)."""

    def excess(v: float) -> float:
        return prof(v) - d0 - crit

    tol = dict(xtol=1e-12 * max(est, 1.0), rtol=1e-10)
    if zero_ok and excess(1e-8 * est) <= 0:
        lo = 0.0
    else:
        b = 0.5 * est
        while excess(b) < 0 and b > 1e-8 * est:
            b *= 0.5
        lo = optimize.brentq(excess, b, est, **tol)
    hi = 2.0 * est
    while excess(hi) < 0:
        hi *= 2.0
    return lo, optimize.brentq(excess, est, hi, **tol)


def _safe(dev):
    def f(vp: np.ndarray) -> float:
        try:
            return float(dev(vp))
        except np.linalg.LinAlgError:
            return np.inf

    return f


def profile_sd_intervals(
    fit: dict, data: pd.DataFrame, level: float = 0.95, criterion: str = "ml"
) -> list[dict]:
    """Profile intervals of the SD of each scalar random-effects term and of sigma.

    ``criterion="ml"`` profiles the ML deviance around the ML estimates also for a REML fit, as
    lme4's ``confint(method = "profile")`` does (it matches it to 1e-6 on HSB); ``"fit"`` profiles
    the fit's own criterion (the REML criterion for a REML fit).
    """
    from mlmpipe.engine.fit import fit_design
    from mlmpipe.engine.lmm import LinearMixedModel
    from mlmpipe.formula import build_design

    if criterion not in ("ml", "fit"):
        raise ValueError(f"profile criterion: {criterion!r} is not one of 'ml', 'fit'")
    reml = bool(fit["reml"]) and criterion == "fit"
    design = build_design(fit["formula"], data)
    model = LinearMixedModel(design, reml=reml)
    theta = np.asarray(fit["theta"], float)
    sigma = float(fit["sigma"])
    if reml != bool(fit["reml"]):
        ml = fit_design(design, reml=False, df_method="none", theta0=theta)
        theta, sigma = np.asarray(ml.theta, float), float(ml.sigma)
    dev = _safe(model.deviance_varpar)
    d0 = dev(np.append(theta, sigma))
    crit = stats.chi2.ppf(level, 1)
    k = len(theta)
    big = 1e3
    out = []
    scalar = [i for i, r in enumerate(model.reterms) if r.ntheta == 1]
    for i in scalar:
        j = model.theta_index[i].start
        others = [m for m in range(k) if m != j]

        def prof_sd(s: float, j=j, others=others) -> float:
            def f(x: np.ndarray) -> float:
                sg = float(np.exp(x[0]))
                th = theta.copy()
                th[j] = s / sg
                th[others] = x[1:]
                return dev(np.append(th, sg))

            x0 = np.concatenate([[np.log(sigma)], theta[others]])
            bounds = [(np.log(sigma) - 3, np.log(sigma) + 3)] + [(0.0, big)] * len(others)
            return _inner(f, x0, bounds)

        est = sigma * theta[j]
        lo, hi = _interval(prof_sd, est, d0, crit, zero_ok=True)
        r = model.reterms[i]
        out.append(
            {"parameter": f"sd_{r.term.names[0]}|{r.name}", "estimate": est, "low": lo, "high": hi}
        )

    def prof_sigma(s: float) -> float:
        return _inner(
            lambda th: dev(np.append(th, s)), theta.copy(), [(float(lb), big) for lb in model.lower]
        )

    lo, hi = _interval(prof_sigma, sigma, d0, crit, zero_ok=False)
    out.append({"parameter": "sigma", "estimate": sigma, "low": lo, "high": hi})
    for row in out:
        row["level"] = level
        row["method"] = "profile likelihood (" + ("REML" if reml else "ML") + " deviance)"
    return out


def profile_sequence(
    models: list[str], fits: dict[str, dict], data: pd.DataFrame, level: float = 0.95
) -> dict:
    """Profile intervals for the models of a sequence whose random-effects terms are all scalar
    (random intercepts); models with random slopes are listed under ``skipped`` with the reason."""
    out: dict = {"level": level, "models": {}, "skipped": {}}
    for m in models:
        vector = sorted({r["group"] for r in fits[m]["random"] if r["term2"] is not None})
        if vector:
            out["skipped"][m] = (
                f"random slopes in {', '.join(vector)}: their SDs are not single theta entries "
                "(profile of vector-valued terms not implemented)"
            )
            continue
        out["models"][m] = profile_sd_intervals(fits[m], data, level)
    return out


def profile_table(prof: dict) -> pd.DataFrame:
    rows = [{"model": m, **r} for m, rs in prof["models"].items() for r in rs]
    return pd.DataFrame(rows)
