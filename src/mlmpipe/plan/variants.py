"""A multiverse specification as a variant plan: the slices its job hands to the main steps.

Specification ``s`` with choices ``c`` is the plan ``plan.with_choices(**c)``; its job runs the same
step functions as the main analysis on that variant's slices (missing data -> outlier handling ->
centering -> fit -> pooling over imputations; :mod:`mlmpipe.sensitivity.specification`). A slice
holds only what depends on the plan and on ``c``, so adding an option to a dimension leaves the
slices, hence the cached results, of every existing specification unchanged.

The alternative estimators (``method`` other than ``mlm``) and the ``outliers`` dimension need one
clustering: the highest level of the plan (schools in students < classes < schools), the
conservative choice for cluster-robust inference (Cameron & Miller 2015, J. Human Resources 50(2)).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from mlmpipe.errors import PlanError
from mlmpipe.plan.applicability import not_applicable
from mlmpipe.plan.frozen import FrozenMap
from mlmpipe.plan.multiverse import NOT_APPLICABLE, InfluenceSlice, SpecSlice
from mlmpipe.plan.sequence import formula_of

if TYPE_CHECKING:
    from mlmpipe.plan.core import Plan


def _top_cluster(plan: Plan) -> str:
    return plan.levels[-1].id


def _unavailable(plan: Plan, choices: Mapping[str, str]) -> str | None:
    """Why the variant cannot honour ``choices`` although they apply to the family."""
    model = plan.model(plan.sensitivity.model)
    random = choices.get("random", NOT_APPLICABLE)
    if random in ("slopes", "uncorrelated") and not any(model.random.values()):
        return f"random={random}: the base model {model.name!r} has no random slopes"
    if choices.get("df") == "kenward_roger" and choices.get("estimator") == "ml":
        return (
            "df=kenward_roger: Kenward-Roger df are defined for REML fits; this specification is "
            "estimated by ML"
        )
    return None


def variant_slice(plan: Plan, choices: Mapping[str, str], sid: str = "") -> SpecSlice:
    """The job slice of the specification with ``choices`` (``sid``: its ID)."""
    sens = plan.sensitivity
    base = dict(
        id=sid,
        choices=FrozenMap.of(dict(choices)),
        focal=sens.focal,
        alpha=plan.alpha,
        cluster=_top_cluster(plan),
    )
    reason = not_applicable(choices, plan.glmm_options() or None)
    if reason is not None:
        return SpecSlice(**base, not_applicable=reason)
    reason = _unavailable(plan, choices)
    if reason is None:
        try:
            variant = plan.with_choices(**{k: v for k, v in choices.items()})
        except PlanError as exc:
            reason = str(exc).removeprefix("with_choices: ")
    if reason is not None:
        return SpecSlice(**base, unavailable=reason)
    model = variant.model(sens.model)
    return SpecSlice(
        **base,
        validate=variant.validate_slice(),
        missing=variant.missing_slice(),
        center=variant.center_slice(),
        fit=variant.fit_slice(sens.model, variant.reporting_estimator),
        alternative=formula_of(plan.outcome, plan.levels[-1:], model.fixed, FrozenMap()),
    )


def spec_slice(plan: Plan, sid: str) -> SpecSlice:
    """The job slice of specification ``sid`` of the plan's multiverse."""
    return variant_slice(plan, plan.sensitivity.spec(sid).choices, sid)


def influence_slice(plan: Plan) -> InfluenceSlice:
    """The job slice of the cluster-influence analysis: the multiverse's model as planned, on the
    complete cases, REML for a linear mixed model and ML for a GLMM."""
    variant = plan.with_choices(missing="listwise")
    est = "ml" if plan.glmm is not None else "reml"
    return InfluenceSlice(
        cutoff=plan.sensitivity.influence_cutoff,
        cluster=_top_cluster(plan),
        validate=variant.validate_slice(),
        missing=variant.missing_slice(),
        center=variant.center_slice(),
        fit=variant.fit_slice(plan.sensitivity.model, est),
    )
