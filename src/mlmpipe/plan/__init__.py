"""The analysis plan: schema validation, defaults, frozen typed sections, step slices, variants.

This package is the only code that knows the keys of ``config/analysis.yaml``:

* :mod:`~mlmpipe.plan.schema` - validation + defaults (once);
* :mod:`~mlmpipe.plan.sections` - the typed sections; :mod:`~mlmpipe.plan.multiverse` - the
  ``sensitivity:`` section resolved into specifications;
* :mod:`~mlmpipe.plan.slices` - one typed slice per step (``to_json`` = the rule's parameter);
* :mod:`~mlmpipe.plan.core` - :class:`Plan` (derived facts, slices, :meth:`Plan.with_choices`);
* :mod:`~mlmpipe.plan.variants` - a multiverse specification as the variant plan's step slices.

Artifact paths live in :mod:`mlmpipe.paths` (re-exported here for existing callers).
"""

from mlmpipe.paths import (
    centering_state_path,
    fit_path,
    missing_targets,
    raw_path,
    sensitivity_targets,
    spec_path,
    targets,
)
from mlmpipe.plan.core import Plan, load_plan, plan_yaml_problem, walk_fields
from mlmpipe.plan.frozen import FrozenMap, canonical_json
from mlmpipe.plan.multiverse import SensitivitySection, Specification, spec_id
from mlmpipe.plan.schema import load_schema, schema_path, validate_config
from mlmpipe.plan.sections import (
    CENTERINGS,
    ESTIMATORS,
    PREDICTOR_TYPES,
    Level,
    ModelSpec,
    Predictor,
)
from mlmpipe.plan.variants import influence_slice, spec_slice, variant_slice

__all__ = [
    "CENTERINGS",
    "ESTIMATORS",
    "PREDICTOR_TYPES",
    "FrozenMap",
    "Level",
    "ModelSpec",
    "Plan",
    "Predictor",
    "SensitivitySection",
    "Specification",
    "canonical_json",
    "centering_state_path",
    "fit_path",
    "influence_slice",
    "load_plan",
    "load_schema",
    "missing_targets",
    "plan_yaml_problem",
    "raw_path",
    "schema_path",
    "sensitivity_targets",
    "spec_id",
    "spec_path",
    "spec_slice",
    "targets",
    "validate_config",
    "variant_slice",
    "walk_fields",
]
