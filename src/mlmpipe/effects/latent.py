"""Effect sizes of binary, count and ordinal (cumulative-link) fits, on the latent scale.

A GLMM or cumulative-link mixed model has no residual variance of its own; on the scale of the
latent variable ``y* = x'beta + z'b + e`` whose thresholding gives the observed outcome, ``e`` has
the variance of the link's error distribution: ``pi^2/3`` (logit), 1 (probit), ``pi^2/6``
(cloglog), or the lognormal approximation for counts (the fit's ``level1_variance``; Snijders &
Bosker 2012, sec. 17.3; Nakagawa, Johnson & Schielzeth 2017, J. R. Soc. Interface 14). With that
value as ``sigma^2`` the ICC and Nakagawa's marginal and conditional R^2 (``effects/r2.py``) are
the latent-scale ones (as R's ``performance::r2_nakagawa`` / ``icc`` for glmer and clmm fits). An
ordinal model's thresholds take the place of the intercept: ``X`` holds the predictors only, and
``var(X beta)`` is unaffected by the intercept either way.

Standardized coefficients on the latent scale (McKelvey & Zavoina 1975, J. Math. Sociol. 4;
Long 1997, *Regression Models for Categorical and Limited Dependent Variables*, sec. 3.8):
``beta * SD(x) / SD(y*)`` with ``var(y*) = var(X beta) + var_random + sigma^2_latent`` of the
model itself -- the change in latent SDs per SD of x.

Measures that compare variance components across models or use the residual variance as a
quantity estimated from the data are not computed for these fits, each with its reason in the
artifact (``skipped``): the latent-scale variance is fixed, so adding predictors rescales all the
other coefficients and variances instead of reducing the level-1 variance (Snijders & Bosker 2012,
sec. 17.3; Hox, Moerbeek & van de Schoot 2018, sec. 6.5).
"""

from __future__ import annotations

import numpy as np

from mlmpipe.effects.parts import FitParts, level_of_columns
from mlmpipe.effects.r2 import nakagawa_components
from mlmpipe.record import FitRecord

#: Why each linear-model measure is not computed for a fit on the latent scale.
SKIPPED = {
    "snijders_bosker": (
        "Snijders & Bosker R^2 compare level-1 and level-2 variances with the null model's; on "
        "the latent scale the level-1 variance is fixed, so these comparisons measure rescaling, "
        "not explained variance (see the Nakagawa R^2 instead)"
    ),
    "prv": (
        "proportional reduction in variance needs an estimated level-1 variance; with the latent "
        "scale fixed, added predictors rescale the cluster variance (it can grow)"
    ),
    "rights_sterba": (
        "the Rights & Sterba decomposition is defined for linear mixed models with an estimated "
        "residual variance"
    ),
    "pseudo_standardized": (
        "pseudo-standardization uses the null model's level-1 SD, which the latent scale fixes; "
        "coefficients are standardized by the model's own latent SD instead"
    ),
}
ICC_CI_NOTE = (
    "no interval: the profile ICC interval is implemented for linear random-intercept models "
    "(this ICC is on the latent scale)"
)


def is_latent(rec: FitRecord) -> bool:
    """True for a binomial, Poisson, negative binomial or ordinal fit (effect sizes on the latent
    or lognormal-approximation scale): ``rec.family.latent`` (kept for compare.py)."""
    return rec.family.latent


def latent_sd(parts: FitParts) -> float:
    """SD of the latent response: ``sqrt(var(X beta) + var_random + sigma^2_latent)``."""
    c = nakagawa_components(parts)
    return float(np.sqrt(c["fixed"] + c["random"] + c["residual"]))


def latent_standardized(parts: FitParts, group: str) -> list[dict]:
    """One row per non-constant coefficient: level (within/between clusters of ``group``), the
    SD of x and of y*, and ``beta_latent = beta * SD(x) / SD(y*)``."""
    sd_y = latent_sd(parts)
    levels = level_of_columns(parts.X, parts.terms[group][0]) if parts.X.shape[1] else []
    rows = []
    for j, name in enumerate(parts.names):
        x = parts.X[:, j]
        if np.all(x == x[0]):
            continue
        b = float(parts.beta[j])
        sd_x = float(np.std(x, ddof=1))
        rows.append(
            {
                "term": name,
                "level": levels[j],
                "estimate": b,
                "sd_x": sd_x,
                "sd_y_latent": sd_y,
                "beta_latent": b * sd_x / sd_y,
            }
        )
    return rows
