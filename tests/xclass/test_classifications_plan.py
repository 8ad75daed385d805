"""The plan's crossed classifications and multiple membership: typed sections, schema, errors
naming the key, and the model terms added to the parsed formulas."""

from __future__ import annotations

import copy

import pytest

from mlmpipe.errors import PlanError
from mlmpipe.formula import parse_formula
from mlmpipe.plan import Plan

CROSSED = {
    "data": {"source": "example", "example": "hsb", "file": "x.csv"},
    "outcome": {"name": "attain"},
    "levels": [
        {"name": "student", "predictors": {"verbal": {}, "sex": {"type": "binary"}}},
        {"name": "primary", "id": "primary"},
    ],
    "classifications": [{"name": "second", "id": "second", "crosses": "primary"}],
    "models": [{"name": "m0"}, {"name": "m1", "add_fixed": ["verbal", "sex"]}],
}


def _plan(**changes) -> Plan:
    cfg = copy.deepcopy(CROSSED)
    cfg.update(changes)
    return Plan.from_config(cfg)


def test_crossed_classification_adds_a_random_intercept_per_classification():
    plan = _plan()
    assert plan.classifications[0].crosses == "primary"
    spec = parse_formula(plan.model("m1").formula)
    assert plan.model("m1").formula == "attain ~ 1 + verbal + sex + (1 | primary) + (1 | second)"
    assert [b.group_name for b in spec.bars] == ["primary", "second"]
    # round trip: the config the plan gives back builds the same plan (same hash)
    assert Plan.from_config(plan.to_config()).hash == plan.hash


def test_nested_plans_keep_their_hash_without_the_new_sections():
    cfg = copy.deepcopy(CROSSED)
    cfg.pop("classifications")
    plan = Plan.from_config(cfg)
    assert "classifications" not in plan.to_config()
    assert "membership" not in plan.to_config()


def test_wide_membership_adds_an_mm_term():
    membership = {"name": "school", "columns": ["s1", "s2", "s3"], "weights": ["w1", "w2", "w3"]}
    plan = _plan(classifications=[], membership=membership)
    f = plan.model("m0").formula
    assert f.endswith("(1 | mm(s1, s2, s3, weights = cbind(w1, w2, w3)))")
    assert parse_formula(f).random[-1].membership.weights == ("w1", "w2", "w3")
    assert Plan.from_config(plan.to_config()).hash == plan.hash


def test_long_membership_reads_the_pivoted_columns_and_keeps_scale_false():
    membership = {
        "name": "school", "table": "data/raw/mobility.csv", "unit": "student",
        "cluster": "school_id", "weight": "days", "slots": 2, "normalise": False,
    }  # fmt: skip
    plan = _plan(classifications=[], membership=membership)
    term = parse_formula(plan.model("m0").formula).random[-1].membership
    assert term.ids == ("school_mm1", "school_mm2")
    assert term.weights == ("school_mmw1", "school_mmw2")
    assert term.scale is False


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"classifications": [{"name": "x", "id": "second", "crosses": "nbhd"}]},
         "classifications[0].crosses: 'nbhd'"),
        ({"classifications": [{"name": "primary", "id": "second", "crosses": "primary"}]},
         "classifications[0].name"),
        ({"classifications": [{"name": "x", "id": "primary", "crosses": "primary"}]},
         "classifications[0].id"),
        ({"classifications": [{"name": "x", "id": "s", "crosses": "primary",
                               "centering": ["sex"]}]},
         "classifications[0].centering: 'sex'"),
        ({"classifications": [{"name": "x", "id": "s", "crosses": "primary",
                               "centering": ["verbal"]}]},
         "classifications[0].centering: means over a classification's clusters are not"),
        ({"membership": {"name": "school", "columns": ["s1", "s2"], "weights": ["w1"]}},
         "membership.weights"),
        ({"membership": {"name": "school", "table": "m.csv", "columns": ["s1", "s2"]}},
         "membership: give either table"),
        ({"membership": {"name": "school", "table": "m.csv", "cluster": "c"}},
         "membership.unit"),
        ({"membership": {"name": "school", "table": "../m.csv", "unit": "u", "cluster": "c"}},
         "membership.table"),
    ],
)  # fmt: skip
def test_bad_sections_name_the_key(changes, message):
    with pytest.raises(PlanError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _plan(**changes)


def test_membership_named_like_a_level_replaces_its_grouping_and_keeps_slopes():
    cfg = copy.deepcopy(CROSSED)
    cfg["classifications"] = []
    cfg["levels"][1] = {"name": "school", "id": "s1"}
    cfg["membership"] = {"name": "school", "columns": ["s1", "s2"], "weights": ["w1", "w2"]}
    cfg["models"].append({"name": "m2", "add_random": {"school": ["verbal"]}})
    plan = Plan.from_config(cfg)
    assert plan.model("m2").formula == (
        "attain ~ 1 + verbal + sex + (1 + verbal | mm(s1, s2, weights = cbind(w1, w2)))"
    )


def test_multiple_imputation_with_a_crossed_design_is_a_one_line_error():
    with pytest.raises(PlanError, match=r"^missing\.method: multiple_imputation is not available"):
        _plan(missing={"method": "multiple_imputation", "m": 5})


def test_multiverse_random_structures_keep_the_classification_terms():
    cfg = copy.deepcopy(CROSSED)
    cfg["models"].append({"name": "m2", "add_random": {"primary": ["verbal"]}})
    plan = Plan.from_config(cfg)
    assert plan.model("m2").formula.endswith("(1 + verbal | primary) + (1 | second)")
    got = plan.with_choices(random="intercept").model("m2").formula
    assert got == "attain ~ 1 + verbal + sex + (1 | primary) + (1 | second)"
    got = plan.with_choices(random="uncorrelated").model("m2").formula
    assert got.endswith("(1 + verbal || primary) + (1 | second)")
    assert plan.with_choices(random="slopes").model("m2").formula == plan.model("m2").formula
