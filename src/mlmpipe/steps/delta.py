"""The MNAR delta-adjustment step (the rule ``delta``)."""

from __future__ import annotations

import pandas as pd

from mlmpipe.missing.delta import delta_analysis
from mlmpipe.missing.figures import tipping_figure
from mlmpipe.plan.slices import DeltaSlice


def delta_step(datasets: list[pd.DataFrame], dspec: str | dict):
    """MNAR delta adjustment over the planned grid. Returns (result dict, tipping-point figure)."""
    d = DeltaSlice.decode(dspec)
    res = delta_analysis(
        datasets,
        d.outcome,
        d.formula,
        d.term,
        list(d.grid),
        reml=d.estimator == "reml",
        alpha=d.alpha,
        backend=d.backend,
        glmm=d.glmm.to_dict() if d.glmm else None,
        seed=d.seed if d.seed is not None else 0,
    )
    res["model"] = d.model
    return res, tipping_figure(res)
