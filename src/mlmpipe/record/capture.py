"""``record_from_result``: the FitRecord of an engine result (kept apart from the record type, so
code that only reads records does not depend on the engine's result classes)."""

from __future__ import annotations

from typing import Any

import numpy as np

from mlmpipe.engine.results import LmmResult
from mlmpipe.record.fitrecord import FitRecord


def record_from_result(res: Any, **meta: Any) -> FitRecord:
    """The record of an engine result (``LmmResult``, ``GlmmResult``) or of any result with a
    ``to_dict()`` in the fit-table layout (the statsmodels backend); ``meta`` sets the plan's
    fields (``model``, ``estimator``, ``planned_formula``, ``ladder``, ``warnings``, ``prior``:
    the prior as planned). A Bayesian modal result's prior description goes to
    ``prior_description``."""
    d = res.to_dict()
    if isinstance(d.get("prior"), str):  # the engine's PriorSpec.describe()
        d["prior_description"] = d.pop("prior")
    if not isinstance(res, LmmResult):
        return FitRecord.from_dict(d, arrays={"theta": d.get("theta")}).replace(**meta)
    arrays: dict[str, Any] = {
        "theta": np.asarray(res.theta, float),
        "beta": np.asarray(res.beta, float),
        "vcov": np.asarray(res.vcov, float),
    }
    glmm = getattr(res, "glmm", None)
    if glmm is not None and glmm.nextra:
        start = glmm.ntheta + glmm.p
        arrays["extra"] = np.asarray(res.optsum.theta_end[start:], float)
    return FitRecord.from_dict(d, arrays=arrays).replace(optimizer=res.optsum, **meta)
