"""Influential clusters, computed once for the ``outliers: drop_influential`` option.

Leave-one-cluster-out Cook's distance on the fixed effects of the multiverse's model as planned
(complete cases and the plan's centering by the main steps, REML, the model's random part), for the
clusters of the plan's highest level:

    D_j = (b - b_(-j))' V(b)^-1 (b - b_(-j)) / p

where ``b_(-j)`` is the GLS estimate without cluster j at the full-data variance parameters
(theta held fixed; Christensen, Pearson & Johnson 1992, "Case-deletion diagnostics for mixed
models", Technometrics 34(1)). Holding theta fixed makes each deletion one factorization instead of a
refit. A cluster is flagged when ``D_j > cutoff``; the default cutoff is ``4 / J`` for J clusters,
the rule of thumb used for clusters by Van der Meer, Te Grotenhuis & Pelzer (2010, "Influential
cases in multilevel modeling", Sociol. Methods Res. 39(1)).

A non-gaussian plan's base model is the plan's GLMM (ML); each deletion refits its fixed effects by
PIRLS with the variance parameters (and NB2 size or ordinal thresholds) held at the full-data
values (:func:`mlmpipe.diagnostics.influence.leave_one_cluster_out`), and ``D_j`` uses the GLMM's
covariance of the fixed effects; the output's ``method`` says so.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from mlmpipe.api import fit as fit_model
from mlmpipe.diagnostics.influence import leave_one_cluster_out
from mlmpipe.engine.lmm import LinearMixedModel
from mlmpipe.formula import build_design
from mlmpipe.plan.multiverse import InfluenceSlice
from mlmpipe.record.capture import record_from_result
from mlmpipe.steps.data import center_step, centering_state_step, missing_step


def cluster_influence(data: pd.DataFrame, spec: InfluenceSlice | str | dict) -> dict:
    """Cook's distance per cluster and the flagged clusters (``spec``: :func:`mlmpipe.plan.influence_slice`)."""
    d = InfluenceSlice.decode(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the missing-data report is the main analysis's to show
        complete = missing_step(data, d.missing, d.validate)[0][0]
    df = center_step(complete, centering_state_step(complete, d.center))
    f = d.fit.formula
    if d.fit.glmm is not None:
        return _glmm_influence(df, f, d)
    res = fit_model(f, df, reml=True, df_method="none")
    b, Vinv, p = res.beta, np.linalg.inv(res.vcov), len(res.beta)
    keys = df[d.cluster].astype(str).to_numpy()
    clusters = list(dict.fromkeys(keys))
    cooks = []
    for c in clusters:
        model = LinearMixedModel(build_design(f, df.loc[keys != c]), reml=True)
        delta = b - model.beta_from(model.factorize(res.theta))
        cooks.append(float(delta @ Vinv @ delta) / p)
    return _flag(f, d, clusters, np.asarray(cooks), len(clusters))


def _flag(
    f: str, d: InfluenceSlice, clusters: list[str], cooks: np.ndarray, n_clusters: int
) -> dict:
    """Clusters whose Cook's distance exceeds the plan's cutoff (default 4 / number of clusters)."""
    cutoff = d.cutoff if d.cutoff is not None else 4.0 / n_clusters
    return {
        "formula": f,
        "cutoff": cutoff,
        "cutoff_rule": "given in the plan" if d.cutoff is not None else "4 / number of clusters",
        "clusters": clusters,
        "cooks_distance": [float(v) for v in cooks],
        "flagged": [c for c, v in zip(clusters, cooks, strict=True) if v > cutoff],
    }


def _glmm_influence(df: pd.DataFrame, f: str, d: InfluenceSlice) -> dict:
    """Cook's distances of the base GLMM at fixed variance parameters (clusters whose deletion
    removes a fixed-effect column or whose refit fails are not flagged; listed in ``warnings``)."""
    rec = record_from_result(fit_model(f, df, reml=False, **d.fit.glmm.to_dict()))
    loo = leave_one_cluster_out(rec, df, d.cluster)
    clusters = [str(r["cluster"]) for r in loo["table"]]
    cooks = np.array([r["cooks_d"] for r in loo["table"]], float)
    n = len(pd.unique(df[d.cluster]))
    return {
        **_flag(f, d, clusters, cooks, n),
        "method": loo["method"],
        "warnings": loo["warnings"],
    }
