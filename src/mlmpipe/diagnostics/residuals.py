"""Residual diagnostics at each level of a fitted LMM (GLMMs: :mod:`.glmm_residuals`).

* Level 1: conditional residuals ``y - X beta - Z b`` scaled by sigma; outliers ``|r / sigma| > 3``.
* Higher levels: conditional modes standardized by their sampling SD,
  ``z_j = b_j / sqrt(tau^2 - Var(b_j | y))`` (the "diagnostic" standardization of Goldstein 2011,
  *Multilevel Statistical Models*, sec. 3.2: the unconditional variance of the BLUP is the prior
  variance minus the conditional variance); outliers ``|z_j| > 3``.
* Heteroscedasticity of level-1 residuals across clusters: the Brown-Forsythe (median-centred
  Levene) test of equal residual variances over clusters, and the per-cluster residual SDs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from mlmpipe.effects.parts import covariance_matrices

OUTLIER_Z = 3.0


def standardized_modes(fit: dict) -> dict[str, pd.DataFrame]:
    """Per grouping factor: levels x terms table of standardized conditional modes."""
    covs = covariance_matrices(fit)
    out = {}
    for g, re in fit["ranef"].items():
        vals = np.asarray(re["values"], float)
        _names, S = covs[g]
        prior = np.diag(S)
        if "condsd" in re:
            cond = np.asarray(re["condsd"], float) ** 2
        else:
            cond = np.zeros_like(vals)
        sd = np.sqrt(np.clip(prior[None, :] - cond, 1e-300, None))
        z = np.where(prior[None, :] > 0, vals / sd, 0.0)
        out[g] = pd.DataFrame(z, index=re["levels"], columns=re["terms"])
    return out


def level1_outliers(resid: pd.DataFrame, sigma: float, limit: float = OUTLIER_Z) -> pd.DataFrame:
    """Rows of the residual table (``row, fitted, residual``) with ``|residual / sigma| > limit``."""
    r = resid.assign(standardized=resid["residual"] / sigma)
    out = r[r["standardized"].abs() > limit]
    return out.reindex(out["standardized"].abs().sort_values(ascending=False).index)


def level2_outliers(fit: dict, limit: float = OUTLIER_Z) -> pd.DataFrame:
    rows = []
    for g, z in standardized_modes(fit).items():
        for term in z.columns:
            s = z[term]
            for lev, v in s[s.abs() > limit].items():
                rows.append({"group": g, "level": lev, "term": term, "z": float(v)})
    return pd.DataFrame(rows, columns=["group", "level", "term", "z"])


def heteroscedasticity(resid: pd.DataFrame, clusters: np.ndarray) -> dict:
    """Brown-Forsythe test of equal level-1 residual variance across clusters (clusters with at
    least 2 rows), with the per-cluster residual SDs."""
    df = pd.DataFrame({"cluster": np.asarray(clusters), "r": resid["residual"].to_numpy()})
    groups = [g["r"].to_numpy() for _c, g in df.groupby("cluster", sort=False) if len(g) >= 2]
    stat, p = stats.levene(*groups, center="median")
    sds = df.groupby("cluster", sort=False)["r"].std(ddof=1)
    return {
        "test": "Brown-Forsythe (median-centred Levene) across clusters",
        "statistic": float(stat),
        "df1": len(groups) - 1,
        "df2": int(sum(len(g) for g in groups) - len(groups)),
        "p": float(p),
        "cluster_sd": {str(k): float(v) for k, v in sds.items()},
    }


def residual_diagnostics(
    fit: dict, resid: pd.DataFrame, data: pd.DataFrame, group: str, seed: int = 0
) -> dict:
    """Level-1 and level-2 outliers and the heteroscedasticity test (JSON-able). A GLMM or ordinal
    fit gets randomized quantile or surrogate residuals instead of ``y - fitted`` (drawn with
    ``seed``; :mod:`mlmpipe.diagnostics.glmm_residuals`)."""
    if fit.get("family", "gaussian") != "gaussian":
        from mlmpipe.diagnostics.glmm_residuals import glmm_residual_diagnostics

        return glmm_residual_diagnostics(fit, resid, data, group, seed)
    sigma = float(fit["sigma"])
    clusters = data[group].to_numpy()[resid["row"].to_numpy()]
    l1 = level1_outliers(resid, sigma)
    l1 = l1.assign(cluster=[str(c) for c in data[group].to_numpy()[l1["row"].to_numpy()]])
    return {
        "model": fit.get("model", fit["formula"]),
        "sigma": sigma,
        "outlier_limit": OUTLIER_Z,
        "level1_outliers": l1.to_dict(orient="records"),
        "level2_outliers": level2_outliers(fit).to_dict(orient="records"),
        "heteroscedasticity": heteroscedasticity(resid, clusters),
    }
