"""The report's items for cumulative-link (ordinal) fits: how to read the model, and each model's
thresholds with Wald intervals and the cumulative probabilities they imply.

The model (McCullagh 1980, JRSS B 42(2); as R's ``ordinal::clmm``) is
``P(Y <= j | x, b) = F(alpha_j - x'beta - b)`` with ``F`` the logistic (logit link) or standard
normal (probit) CDF, thresholds ``alpha_1 < ... < alpha_{K-1}`` in place of an intercept, and one
``beta`` per predictor for all categories (proportional odds). ``exp(beta)`` is the cumulative odds
ratio: the odds of a response above any category j (against at or below j) multiply by
``exp(beta)`` per unit of x, within a cluster (b fixed). ``F(alpha_j)`` is the probability of a
response at or below j for a unit with all predictors 0 in a cluster with ``b = 0``.
"""

from __future__ import annotations

import math

import pandas as pd
from scipy import stats

from mlmpipe.record import FitRecord

LINK_CDF = {"logit": stats.logistic.cdf, "probit": stats.norm.cdf}


def _z(rec: FitRecord) -> float:
    """The normal quantile of the fit's Wald intervals (from its first fixed effect; else 95%)."""
    for r in rec.fixed:
        if r.se and r.ci_low is not None and r.se > 0:
            return (r.estimate - r.ci_low) / r.se
    return float(stats.norm.ppf(0.975))


def threshold_table(rec: FitRecord) -> pd.DataFrame:
    """Per threshold ``j|j+1``: estimate and SE on the link scale, Wald CI (the fit's level), and
    ``P(Y <= j)`` at x = 0, b = 0."""
    z, cdf = _z(rec), LINK_CDF[rec.family.link]
    rows = []
    for t in rec.thresholds:
        a, se = t.estimate, t.se
        ok = se is not None and math.isfinite(se)
        rows.append(
            {
                "threshold": t.term,
                "estimate (link)": a,
                "SE": se,
                "CI low": a - z * se if ok else math.nan,
                "CI high": a + z * se if ok else math.nan,
                "P(Y <= j) at x = 0, b = 0": float(cdf(a)),
            }
        )
    return pd.DataFrame(rows)


def how_to_read(rec: FitRecord) -> str:
    """Markdown paragraph on the models and their parameters (outcome named)."""
    link = rec.family.link
    ratio = (
        "`exp(beta)` is the **cumulative odds ratio**: per unit of the predictor the odds of a "
        "response above any category j (against at or below j) multiply by `exp(beta)`, the same "
        "for every j (proportional odds), within a cluster"
        if link == "logit"
        else "probit coefficients are shifts of the latent response in its (unit) SD and are not "
        "exponentiated"
    )
    return (
        f"Cumulative {link} mixed models of `{rec.formula.response_name}`: "
        "`P(Y <= j) = F(alpha_j - x'beta - b)`. The outcome's categories are its sorted "
        "values; the thresholds `alpha_j` (one per pair of adjacent categories, in place of an "
        "intercept) are cut points on the latent scale, and `F(alpha_j)` is the probability of a "
        "response at or below j for a unit with all predictors 0 in a typical cluster (b = 0). A "
        f"positive `beta` moves responses to higher categories; {ratio}."
    )


def ordinal_items(rec: FitRecord) -> list:
    """``(kind, object)`` items for one ordinal fit: heading and its threshold table."""
    return [
        ("md", f"**{rec.label}** ({rec.estimator.upper()}): thresholds"),
        ("table", threshold_table(rec)),
    ]
