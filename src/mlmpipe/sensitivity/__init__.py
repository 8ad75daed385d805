"""Sensitivity analyses as a multiverse: grid of specifications, estimation, summary, figures."""

from mlmpipe.sensitivity.grid import SensitivityPlan, Specification, build_sensitivity, spec_id
from mlmpipe.sensitivity.specification import run_specification

__all__ = [
    "SensitivityPlan",
    "Specification",
    "build_sensitivity",
    "run_specification",
    "spec_id",
]
