"""Parser and R-style deparser."""

from __future__ import annotations

import pytest

from mlmpipe.errors import FormulaError
from mlmpipe.formula.parse import BinOp, Name, Num, UnaryOp, deparse, parse_expr, walk_names


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("y~x", "y ~ x"),
        ("log(y) ~ I(x^2) + I(x*2+1)", "log(y) ~ I(x^2) + I(x * 2 + 1)"),
        ("y ~ I(x**2)", "y ~ I(x^2)"),
        ("cbind(s, n-s) ~ x", "cbind(s, n - s) ~ x"),
        ("y ~ (x||g) + (1|a/b)", "y ~ (x || g) + (1 | a/b)"),
        ("y ~ I(-x) + log(x + 1.50)", "y ~ I(-x) + log(x + 1.5)"),
        ('y ~ I(s == "Public")', 'y ~ I(s == "Public")'),
        ("y ~ `odd name` + a:b", "y ~ odd name + a:b"),
        ("~ x", "~x"),
    ],
)
def test_deparse_matches_r(text: str, expected: str) -> None:
    assert deparse(parse_expr(text)) == expected


def test_precedence_follows_r() -> None:
    # -2^2 is -(2^2); ^ is right-associative; : binds tighter than *, * tighter than +
    assert parse_expr("-a^b") == UnaryOp("-", BinOp("^", Name("a"), Name("b")))
    assert parse_expr("a^b^c") == BinOp("^", Name("a"), BinOp("^", Name("b"), Name("c")))
    node = parse_expr("a + b*c:d")
    assert node == BinOp("+", Name("a"), BinOp("*", Name("b"), BinOp(":", Name("c"), Name("d"))))
    assert parse_expr("y ~ 1 | g") == BinOp("~", Name("y"), BinOp("|", Num(1.0), Name("g")))


def test_deparse_parenthesises_right_nested_interaction() -> None:
    # lme4 names the innermost grouping factor of (1 | a/b/c) "c:(b:a)"
    assert deparse(BinOp(":", Name("c"), BinOp(":", Name("b"), Name("a")))) == "c:(b:a)"


def test_walk_names_in_order() -> None:
    assert walk_names(parse_expr("log(y) ~ I(b*a) + a + (x|g)")) == ["y", "b", "a", "x", "g"]


@pytest.mark.parametrize("bad", ["y ~ x +", "y ~ (x", "y ~ x $ z", "y ~ f(x,)"])
def test_syntax_errors_are_formula_errors(bad: str) -> None:
    with pytest.raises(FormulaError, match="cannot parse formula"):
        parse_expr(bad)
