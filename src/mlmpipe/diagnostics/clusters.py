"""Cluster-level diagnostics shared by the LMM and GLMM residual diagnostics.

* Conditional modes standardized by their sampling SD,
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

from mlmpipe.record import FitRecord

OUTLIER_Z = 3.0


def standardized_modes(rec: FitRecord) -> dict[str, pd.DataFrame]:
    """Per grouping factor: levels x terms table of the record's standardized conditional modes
    (conditional variances taken as 0 when the record has no ``condsd``)."""
    covs = rec.covariance_matrices()
    out = {}
    for g, block in rec.ranef.items():
        vals = np.asarray(block.values, float)
        _names, S = covs[g]
        prior = np.diag(S)
        if block.condsd is not None:
            cond = np.asarray(block.condsd, float) ** 2
        else:
            cond = np.zeros_like(vals)
        sd = np.sqrt(np.clip(prior[None, :] - cond, 1e-300, None))
        z = np.where(prior[None, :] > 0, vals / sd, 0.0)
        out[g] = pd.DataFrame(z, index=list(block.levels), columns=list(block.terms))
    return out


def level2_outliers(rec: FitRecord, limit: float = OUTLIER_Z) -> pd.DataFrame:
    """Levels whose standardized conditional mode of some term exceeds ``limit`` in size."""
    rows = []
    for g, z in standardized_modes(rec).items():
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
