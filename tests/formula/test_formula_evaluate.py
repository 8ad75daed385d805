"""Evaluation of variables and R's factor() conventions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlmpipe.errors import FormulaError
from mlmpipe.formula.evaluate import Evaluator, Factor, factor_from_series, r_label
from mlmpipe.formula.parse import parse_expr


def evaluate(expr: str, data: pd.DataFrame, state: dict | None = None, fitting: bool = True):
    return Evaluator(data, expr, {} if state is None else state, fitting)(parse_expr(expr))


def test_strings_sort_categorical_keeps_order() -> None:
    f = factor_from_series(pd.Series(["Public", "Catholic", "Public", None]))
    assert f.levels == ("Catholic", "Public")
    assert f.codes.tolist() == [1, 0, 1, -1]
    c = factor_from_series(
        pd.Series(pd.Categorical(["Public", "Catholic"], ["Public", "Catholic"]))
    )
    assert c.levels == ("Public", "Catholic") and c.codes.tolist() == [0, 1]


def test_numeric_ids_sort_numerically_with_r_labels() -> None:
    f = factor_from_series(pd.Series([10, 9, 100, 9]))
    assert f.levels == ("9", "10", "100")
    assert factor_from_series(pd.Series([2.0, 1.5])).levels == ("1.5", "2")
    assert r_label(True) == "TRUE" and r_label(np.int64(7)) == "7"


def test_bool_is_logical_with_both_levels() -> None:
    f = factor_from_series(pd.Series([True, True]))
    assert f.logical and f.levels == ("FALSE", "TRUE") and f.codes.tolist() == [1, 1]


def test_drop_unused_and_recode() -> None:
    f = Factor(np.array([2, 0, 2, -1]), ("a", "b", "c"))
    d = f.drop_unused()
    assert d.levels == ("a", "c") and d.codes.tolist() == [1, 0, 1, -1]
    r = d.recode(("c", "z"))
    assert r.codes.tolist() == [0, -1, 0, -1]


def test_arithmetic_and_functions() -> None:
    d = pd.DataFrame({"x": [1.0, 4.0], "z": [2.0, 3.0]})
    np.testing.assert_allclose(evaluate("I(x^2 + 2*z - 1)", d), [4.0, 21.0])
    np.testing.assert_allclose(evaluate("I(x**0.5 / z)", d), [0.5, 2 / 3])
    np.testing.assert_allclose(evaluate("log(x)", d), np.log([1.0, 4.0]))
    np.testing.assert_allclose(evaluate("sqrt(abs(-x))", d), [1.0, 2.0])
    np.testing.assert_allclose(evaluate("exp(I(-x))", d), np.exp([-1.0, -4.0]))
    np.testing.assert_allclose(evaluate("cbind(x, z - x)", d), [[1.0, 1.0], [4.0, -1.0]])


def test_comparison_gives_logical() -> None:
    d = pd.DataFrame({"x": [1.0, 4.0, np.nan], "s": ["a", "b", "a"]})
    f = evaluate("I(x > 2)", d)
    assert f.logical and f.codes.tolist() == [0, 1, -1]
    assert evaluate('I(s == "a")', d).codes.tolist() == [1, 0, 1]


def test_scale_is_stateful() -> None:
    d = pd.DataFrame({"x": [1.0, 2.0, 3.0, np.nan]})
    state: dict = {}
    np.testing.assert_allclose(evaluate("scale(x)", d, state)[:3], [-1.0, 0.0, 1.0])
    new = pd.DataFrame({"x": [4.0]})
    np.testing.assert_allclose(evaluate("scale(x)", new, state, fitting=False), [2.0])


def test_errors() -> None:
    d = pd.DataFrame({"x": [1.0], "s": ["a"]})
    with pytest.raises(FormulaError, match="unknown column 'w'"):
        evaluate("log(w)", d)
    with pytest.raises(FormulaError, match="non-numeric"):
        evaluate("I(s + 1)", d)
    with pytest.raises(FormulaError, match="unsupported function"):
        evaluate("poly(x)", d)
