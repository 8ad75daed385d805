"""What a fit's residual table carries for the GLMM residual diagnostics (the fit rule depends on
this file alone, so changes elsewhere in ``diagnostics`` do not refit the models)."""

from __future__ import annotations

import numpy as np


def response_columns(result) -> dict[str, np.ndarray]:
    """Columns a fit's residual table needs for these diagnostics: ``eta`` (linear predictor incl.
    modes and offset), ``y`` (binomial proportion, count or ordinal code 0..K-1) and ``weight``
    (binomial trials, else 1). Empty for a linear mixed model."""
    g = getattr(result, "glmm", None)
    if g is None:
        return {}
    return {
        "eta": np.asarray(result.linear_predictor(), float),
        "y": np.asarray(g.y, float),
        "weight": np.asarray(g.wt, float),
    }
