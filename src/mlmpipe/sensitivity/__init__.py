"""Sensitivity analyses as a multiverse: grid of specifications, estimation, summary, figures."""

from mlmpipe.sensitivity.grid import SensitivityPlan, Specification, build_sensitivity, spec_id
from mlmpipe.sensitivity.specification import register_missing_method, run_specification

__all__ = [
    "SensitivityPlan",
    "Specification",
    "build_sensitivity",
    "register_missing_method",
    "run_specification",
    "spec_id",
]
