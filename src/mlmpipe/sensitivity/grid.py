"""The multiverse's grid as the rules see it: specification IDs, inputs and code of each job.

The ``sensitivity:`` section is read by the plan (:mod:`mlmpipe.plan.multiverse`: dimensions,
specifications with stable IDs, the primary specification, the job parameters); this module only
consumes the :class:`~mlmpipe.plan.Plan` and re-exports the names the rest of ``sensitivity/``
uses.
"""

from __future__ import annotations

from mlmpipe.paths import SENS_FIGURE as FIGURE
from mlmpipe.paths import SENS_INFLUENCE as INFLUENCE
from mlmpipe.paths import SENS_SUMMARY as SUMMARY
from mlmpipe.paths import SENS_TABLE as TABLE
from mlmpipe.paths import SPEC_DIR, imputed_path, sensitivity_targets, spec_path
from mlmpipe.plan import Plan
from mlmpipe.plan.applicability import not_applicable
from mlmpipe.plan.multiverse import (
    MLM_ONLY,
    NOT_APPLICABLE,
    OPTIONS,
    ORDER,
    SensitivitySection,
    Specification,
    spec_id,
)
from mlmpipe.plan.multiverse import build_sensitivity as resolve
from mlmpipe.plan.sections import SensitivityConfig
from mlmpipe.plan.variants import spec_slice

#: The resolved ``sensitivity:`` section (the name this module gave it before the typed plan).
SensitivityPlan = SensitivitySection


def build_sensitivity(section: dict, plan: Plan) -> SensitivitySection:
    """Resolve a (schema-validated, defaults filled) ``sensitivity`` section against ``plan``."""
    return resolve(SensitivityConfig.from_config(section), plan.multiverse_context())


def shared_datasets(plan: Plan, sid: str) -> list[str]:
    """The main missing step's data sets, for a specification whose missing-data handling is the
    plan's own (outlier handling and delta grid aside): its job reads them instead of imputing again, so an
    imputation specification of an imputing plan costs its fits only."""
    s = spec_slice(plan, sid)
    if s.missing is None or not s.missing.same_data_sets(plan.missing_slice()):
        return []
    return [imputed_path(i) for i in plan.imputations]


def spec_inputs(plan: Plan, sid: str) -> list[str]:
    """The influence artifact, only for specifications that drop influential clusters."""
    choices = plan.sensitivity.spec(sid).choices
    if not_applicable(choices, plan.glmm_options()) is not None:
        return []  # recorded as not applicable without reading anything
    return [INFLUENCE] if choices.get("outliers") == "drop_influential" else []


__all__ = [
    "FIGURE",
    "INFLUENCE",
    "MLM_ONLY",
    "NOT_APPLICABLE",
    "OPTIONS",
    "ORDER",
    "SPEC_DIR",
    "SUMMARY",
    "TABLE",
    "SensitivityPlan",
    "Specification",
    "build_sensitivity",
    "sensitivity_targets",
    "spec_id",
    "shared_datasets",
    "spec_inputs",
    "spec_path",
]
