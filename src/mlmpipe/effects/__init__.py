"""Effect-size summaries of fitted models: intraclass correlations and variance shares."""

from __future__ import annotations


def variance_components(fit: dict) -> dict:
    """``{group: intercept variance, ..., "Residual": sigma^2}`` from a result dict."""
    out = {}
    for row in fit["random"]:
        if row["term2"] is None and (row["group"] == "Residual" or row["term1"] == "(Intercept)"):
            out[row["group"]] = float(row["vcov"])
    if fit.get("level1_variance") is not None:  # GLMM: latent-scale level-1 variance (pi^2/3 logit)
        out["Residual"] = float(fit["level1_variance"])
    return out


def icc(fit: dict) -> dict:
    """Intraclass correlations of a random-intercept model (meaningful for the null model).

    For each grouping factor g: ``tau_g / (sum of intercept variances + sigma^2)``, the share of
    the outcome variance between g-clusters. With nested levels (student < class < school) the
    correlation of two units in the same class is the sum of the class and school shares.
    """
    vc = variance_components(fit)
    total = sum(vc.values())
    if total <= 0:
        raise ValueError("icc: the total variance is zero")
    return {g: v / total for g, v in vc.items() if g != "Residual"}
