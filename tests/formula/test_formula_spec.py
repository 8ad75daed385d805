"""parse_formula: bar terms, || and / expansion, variables."""

from __future__ import annotations

import dataclasses

import pytest

from mlmpipe.errors import FormulaError
from mlmpipe.formula import FormulaSpec, parse_formula


def bars(formula: str) -> list[tuple[str, tuple[str, ...], bool]]:
    return [
        (r.group_name, r.lhs.term_labels, r.lhs.intercept) for r in parse_formula(formula).random
    ]


def test_hsb_formula() -> None:
    spec = parse_formula("mAch ~ meanses*cses + sector*cses + (cses|school)")
    assert spec.response_name == "mAch"
    assert spec.fixed.term_labels == ("meanses", "cses", "sector", "meanses:cses", "cses:sector")
    assert bars(spec.formula) == [("school", ("cses",), True)]
    assert spec.variables == frozenset({"mAch", "meanses", "cses", "sector", "school"})


def test_spec_is_immutable() -> None:
    spec = parse_formula("y ~ x + (1|g)")
    assert isinstance(spec, FormulaSpec)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.formula = "z ~ 1"  # type: ignore[misc]


def test_double_bar_expands_like_lme4() -> None:
    assert bars("y ~ x + (x||g)") == [("g", (), True), ("g", ("x",), False)]
    assert bars("y ~ (0 + x + z||g)") == [("g", ("x",), False), ("g", ("z",), False)]
    assert bars("y ~ (x*z||g)") == [
        ("g", (), True),
        ("g", ("x",), False),
        ("g", ("z",), False),
        ("g", ("x:z",), False),
    ]


def test_slash_expands_like_lme4() -> None:
    assert bars("y ~ (1|school/class)") == [("class:school", (), True), ("school", (), True)]
    assert [g for g, _, _ in bars("y ~ (1|a/b/c)")] == ["c:(b:a)", "b:a", "a"]
    assert bars("y ~ (x|a/b)") == [("b:a", ("x",), True), ("a", ("x",), True)]
    assert bars("y ~ (x||a/b)") == [
        ("b:a", (), True),
        ("a", (), True),
        ("b:a", ("x",), False),
        ("a", ("x",), False),
    ]


def test_random_terms_keep_formula_order_and_duplicates() -> None:
    assert bars("y ~ (1|g) + x + (0 + x|g) + (1|h)") == [
        ("g", (), True),
        ("g", ("x",), False),
        ("h", (), True),
    ]
    assert parse_formula("y ~ (1|g) + x + (0 + x|g)").fixed.term_labels == ("x",)


def test_fixed_part_of_bars_only_formula() -> None:
    spec = parse_formula("y ~ (1|g)")
    assert spec.fixed.term_labels == () and spec.fixed.intercept
    spec = parse_formula("y ~ 0 + (1|g)")
    assert not spec.fixed.intercept
    spec = parse_formula("y ~ x + (1|g) - 1")
    assert spec.fixed.term_labels == ("x",) and not spec.fixed.intercept


def test_interaction_grouping_leaves() -> None:
    (r,) = parse_formula("y ~ (1|dept:service)").random
    assert r.group_name == "dept:service"
    assert [leaf.id for leaf in r.leaves] == ["dept", "service"]


def test_cbind_response() -> None:
    spec = parse_formula("cbind(incidence, size - incidence) ~ period + (1|herd)")
    assert spec.response_name == "cbind(incidence, size - incidence)"
    assert spec.variables == frozenset({"incidence", "size", "period", "herd"})


@pytest.mark.parametrize("bad", ["y x", "y + x", "y ~ (1|2)", "y ~ (1|a+b)"])
def test_bad_formulas(bad: str) -> None:
    with pytest.raises(FormulaError):
        parse_formula(bad)
