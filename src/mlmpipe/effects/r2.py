"""Variance explained by a linear mixed model: Nakagawa R^2 and adjusted/conditional ICC, and
Snijders & Bosker R^2 at levels 1 and 2.

Nakagawa & Schielzeth (2013, Methods Ecol. Evol. 4(2)) with Johnson's (2014, Methods Ecol. Evol.
5(9)) extension to random slopes:

* fixed-effects variance ``var_f = var(X beta)`` (sample variance, n - 1);
* random-effects variance ``var_r = sum_g mean_i z_gi' Sigma_g z_gi`` over grouping factors g,
  the average over rows of the variance the random effects add to one observation;
* residual variance ``sigma^2``.

Marginal R^2 = var_f / (var_f + var_r + sigma^2); conditional R^2 = (var_f + var_r) / (...).
The adjusted ICC is var_r / (var_r + sigma^2), the conditional ICC var_r / (var_f + var_r + sigma^2)
(the definitions of R's performance::icc and performance::r2_nakagawa).

Snijders & Bosker (1994, Sociol. Methods Res. 22(3); 2012, section 7.1): the proportional reduction
of prediction error for an individual outcome (level 1) and for a cluster mean of ``n`` outcomes
(level 2) relative to the null model,

    R^2_1 = 1 - (sigma^2 + tau^2) / (sigma^2_0 + tau^2_0),
    R^2_2 = 1 - (sigma^2 / n + tau^2) / (sigma^2_0 / n + tau^2_0),

with ``n`` a representative cluster size (the harmonic mean here). They are defined for
random-intercept models; for a model with random slopes the intercept variance is used (the
intercept variance then refers to predictors at zero; Snijders & Bosker advise reading these
values from the random-intercept version of the model) and the result says so.
"""

from __future__ import annotations

import numpy as np

from mlmpipe.effects.parts import FitParts, cluster_sizes


def nakagawa_components(parts: FitParts) -> dict[str, float]:
    """``{"fixed", "random", "residual"}`` variances as defined above."""
    var_f = float(np.var(parts.X @ parts.beta, ddof=1))
    if var_f < 1e-12 * parts.sigma2:  # an intercept-only fixed part: rounding noise only
        var_f = 0.0
    var_r = 0.0
    for _codes, Z, S in parts.terms.values():
        var_r += float(np.mean(np.einsum("ia,ab,ib->i", Z, S, Z)))
    return {"fixed": var_f, "random": var_r, "residual": parts.sigma2}


def nakagawa_r2(parts: FitParts) -> dict[str, float]:
    """Marginal and conditional R^2 and the adjusted and conditional ICC."""
    c = nakagawa_components(parts)
    total = c["fixed"] + c["random"] + c["residual"]
    return {
        "r2_marginal": c["fixed"] / total,
        "r2_conditional": (c["fixed"] + c["random"]) / total,
        "icc_adjusted": c["random"] / (c["random"] + c["residual"]),
        "icc_conditional": c["random"] / total,
        **{f"var_{k}": v for k, v in c.items()},
    }


def harmonic_mean_size(codes: np.ndarray) -> float:
    n = cluster_sizes(codes).astype(float)
    return float(len(n) / np.sum(1.0 / n))


def _intercept_variance(parts: FitParts) -> float:
    tau = 0.0
    for _codes, Z, S in parts.terms.values():
        j = [k for k in range(Z.shape[1]) if np.all(Z[:, k] == 1.0)]
        if j:
            tau += float(S[j[0], j[0]])
    return tau


def snijders_bosker_r2(null: FitParts, parts: FitParts, group: str) -> dict[str, float | str]:
    """R^2 at level 1 and level 2 of ``parts`` relative to ``null`` (see the module docstring);
    ``n`` is the harmonic mean size of the clusters of ``group``."""
    n = harmonic_mean_size(null.terms[group][0])
    t0, t1 = _intercept_variance(null), _intercept_variance(parts)
    s0, s1 = null.sigma2, parts.sigma2
    slopes = any(Z.shape[1] > 1 for _c, Z, _S in parts.terms.values())
    return {
        "r2_level1": 1.0 - (s1 + t1) / (s0 + t0),
        "r2_level2": 1.0 - (s1 / n + t1) / (s0 / n + t0),
        "cluster_size": n,
        "note": "random slopes: intercept variance used" if slopes else "",
    }
