"""Residual diagnostics at each level of a fitted LMM (GLMMs: :mod:`.glmm_residuals`).

* Level 1: conditional residuals ``y - X beta - Z b`` scaled by sigma; outliers ``|r / sigma| > 3``.
* Higher levels: the standardized conditional modes and their outliers ``|z_j| > 3``, and the
  Brown-Forsythe test of equal level-1 variance across clusters (:mod:`.clusters`).
"""

from __future__ import annotations

import pandas as pd

from mlmpipe.diagnostics.clusters import OUTLIER_Z, heteroscedasticity, level2_outliers
from mlmpipe.diagnostics.glmm_residuals import glmm_residual_diagnostics
from mlmpipe.record import FitRecord


def level1_outliers(resid: pd.DataFrame, sigma: float, limit: float = OUTLIER_Z) -> pd.DataFrame:
    """Rows of the residual table (``row, fitted, residual``) with ``|residual / sigma| > limit``."""
    r = resid.assign(standardized=resid["residual"] / sigma)
    out = r[r["standardized"].abs() > limit]
    return out.reindex(out["standardized"].abs().sort_values(ascending=False).index)


def residual_diagnostics(
    rec: FitRecord, resid: pd.DataFrame, data: pd.DataFrame, group: str, seed: int = 0
) -> dict:
    """Level-1 and level-2 outliers and the heteroscedasticity test (JSON-able). A GLMM or ordinal
    fit gets randomized quantile or surrogate residuals instead of ``y - fitted`` (its family's
    ``residual_type``, drawn with ``seed``; :mod:`mlmpipe.diagnostics.glmm_residuals`)."""
    if rec.family.residual_type != "conditional":
        return glmm_residual_diagnostics(rec, resid, data, group, seed)
    sigma = float(rec.sigma)
    clusters = data[group].to_numpy()[resid["row"].to_numpy()]
    l1 = level1_outliers(resid, sigma)
    l1 = l1.assign(cluster=[str(c) for c in data[group].to_numpy()[l1["row"].to_numpy()]])
    return {
        "model": rec.label,
        "sigma": sigma,
        "outlier_limit": OUTLIER_Z,
        "level1_outliers": l1.to_dict(orient="records"),
        "level2_outliers": level2_outliers(rec).to_dict(orient="records"),
        "heteroscedasticity": heteroscedasticity(resid, clusters),
    }
