"""The ``survey:`` plan section: weights per level, scaling, plausible values as data sets and
variants; errors name the key."""

from __future__ import annotations

import copy

import pytest

from mlmpipe.errors import PlanError
from mlmpipe.plan import Plan

PVS = [f"PV{k}MATH" for k in range(1, 6)]
BASE = {
    "project": "survey",
    "data": {"source": "file", "file": "d.csv"},
    "outcome": {"name": "math", "plausible_values": PVS},
    "levels": [
        {"name": "student", "predictors": {"escs": {"centering": "group"}}},
        {"name": "school", "id": "school", "predictors": {}},
    ],
    "models": [{"name": "m0"}, {"name": "m1", "add_fixed": ["cescs"]}],
    "estimation": {"estimators": ["ml"]},
    "survey": {"weights": {"student": "w_fstuwt", "school": "w_sch"}, "level1_weight": "total"},
}


def plan(**edits) -> Plan:
    cfg = copy.deepcopy(BASE)
    for key, value in edits.items():
        cfg[key] = value
    return Plan.from_config(cfg)


def test_section_is_typed_and_round_trips():
    p = plan()
    assert p.survey.scaling == "size" and p.survey.level1_weight == "total"
    assert p.survey.n_plausible_values == 5
    assert p.outcome == "math"
    again = Plan.from_config(p.to_config())
    assert again.hash == p.hash and again.survey == p.survey


def test_plan_without_survey_keeps_its_config():
    cfg = copy.deepcopy(BASE)
    del cfg["survey"]
    cfg["outcome"] = {"name": "math"}
    cfg["estimation"] = {"estimators": ["reml", "ml"]}
    p = Plan.from_config(cfg)
    assert p.survey is None and "survey" not in p.to_config()
    assert p.nesting == (0, 0) and p.pooled_imputations == (0,)


def test_plausible_values_are_data_sets_and_variants():
    p = plan(missing={"method": "multiple_imputation", "m": 3})
    assert p.nesting == (5, 3)
    assert p.imputations == tuple(range(16))
    assert p.pooled_imputations == tuple(range(1, 16))
    v = p.with_choices(plausible_value=2)
    assert v.pooled_imputations == (4, 5, 6)
    cols = p.missing_slice().plausible_values
    assert cols[1] == {"math": "PV2MATH"}
    listwise = plan()
    assert listwise.nesting == (5, 1) and listwise.pooled_imputations == (1, 2, 3, 4, 5)
    with pytest.raises(PlanError, match="plausible_value 6"):
        p.with_choices(plausible_value=6)


def test_outcome_name_defaults_to_the_pv_stem():
    p = plan(outcome={"plausible_values": PVS})
    assert p.outcome == "PVMATH"


def test_reml_with_weights_is_refused():
    with pytest.raises(PlanError, match=r"estimation.estimators: REML is not defined"):
        plan(estimation={"estimators": ["reml", "ml"]})


@pytest.mark.parametrize(
    ("survey", "message"),
    [
        ({"weights": {"class": "w"}}, r"survey.weights.class: the plan has no level 'class'"),
        ({"weights": {"student": "w"}, "level1_weight": "total"}, r"survey.level1_weight"),
        ({"scaling": "cluster"}, r"survey.scaling: 'cluster' is not allowed"),
        ({"plausible_values": {"read": ["a", "b"]}}, r"survey.plausible_values.read"),
        ({"plausible_values": {"escs": ["a", "b"]}}, r"same number of plausible values"),
        ({"weights": {"school": "PV1MATH"}}, r"survey.weights.school: column 'PV1MATH'"),
        ({"unknown": 1}, r"survey: unknown key"),
    ],
)
def test_errors_name_the_key(survey, message):
    with pytest.raises(PlanError, match=message):
        plan(survey=survey)


def test_outcome_needs_name_or_pvs():
    with pytest.raises(PlanError, match="outcome: missing required key 'name'"):
        plan(outcome={})
