"""R's terms() algebra: term lists, order, labels, intercept."""

from __future__ import annotations

import pytest

from mlmpipe.errors import FormulaError
from mlmpipe.formula.algebra import expand_terms
from mlmpipe.formula.parse import parse_expr


def labels(rhs: str) -> tuple[tuple[str, ...], bool]:
    spec = expand_terms(parse_expr(rhs), rhs)
    return spec.term_labels, spec.intercept


@pytest.mark.parametrize(
    ("rhs", "terms", "intercept"),
    [
        (
            "meanses*cses + sector*cses",
            ("meanses", "cses", "sector", "meanses:cses", "cses:sector"),
            True,
        ),
        ("(a + b)^2", ("a", "b", "a:b"), True),
        ("(a + b + c)^2", ("a", "b", "c", "a:b", "a:c", "b:c"), True),
        ("(a + b + c)^3 - a:b:c", ("a", "b", "c", "a:b", "a:c", "b:c"), True),
        ("a*b*c - a:b", ("a", "b", "c", "a:c", "b:c", "a:b:c"), True),
        ("x - 1", ("x",), False),
        ("0 + x", ("x",), False),
        ("x + 0", ("x",), False),
        ("-1 + x", ("x",), False),
        ("0 + x + 1", ("x",), True),
        ("x - 0", ("x",), True),
        ("1", (), True),
        ("0", (), False),
        ("b:a + a", ("a", "b:a"), True),  # labels use first-appearance order of variables
        ("a + b:a", ("a", "a:b"), True),
        ("a:a", ("a",), True),
        ("a/b", ("a", "a:b"), True),
        ("(a + b)/c", ("a", "b", "a:b:c"), True),
        ("a %in% b", ("a:b",), True),
        ("(a + b):(c + d)", ("a:c", "a:d", "b:c", "b:d"), True),  # left outer loop
        ("(a + b + c)^3", ("a", "b", "c", "a:b", "a:c", "b:c", "a:b:c"), True),
        ("x + I(x^2) + log(z)", ("x", "I(x^2)", "log(z)"), True),
        ("a:b + c", ("c", "a:b"), True),  # sorted by degree, stable
    ],
)
def test_term_labels_match_r(rhs: str, terms: tuple[str, ...], intercept: bool) -> None:
    assert labels(rhs) == (terms, intercept)


def test_offsets_are_kept_apart() -> None:
    spec = expand_terms(parse_expr("x + offset(log(n))"), "")
    assert spec.term_labels == ("x",)
    assert len(spec.offsets) == 1
    assert spec.columns == frozenset({"x", "n"})


@pytest.mark.parametrize("rhs", ["x + 2", "(a+b)^x", ".", "x + a|g"])
def test_invalid_terms(rhs: str) -> None:
    with pytest.raises(FormulaError):
        expand_terms(parse_expr(rhs), rhs)
