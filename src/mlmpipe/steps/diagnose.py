"""Diagnostics step of the final model (the rule ``diagnose``)."""

from __future__ import annotations

import pandas as pd

from mlmpipe.diagnostics import leave_one_cluster_out, residual_diagnostics
from mlmpipe.plan.slices import CompareSlice
from mlmpipe.record import FitRecord


def diagnose_step(
    data: pd.DataFrame, fit: FitRecord, resid: pd.DataFrame, cspec: str | dict, seed: int = 0
) -> tuple[dict, dict]:
    """Residual diagnostics and leave-one-cluster-out influence of one model on the level-2 units
    (the first grouping level above the observations); ``seed`` (the plan's) draws the randomized
    residuals of GLMM and ordinal fits."""
    group = CompareSlice.decode(cspec).cluster_id
    return (
        residual_diagnostics(fit, resid, data, group, seed),
        leave_one_cluster_out(fit, data, group),
    )
