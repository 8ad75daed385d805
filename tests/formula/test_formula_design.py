"""build_design / new_data_matrices: NA handling, errors, responses, offsets, prediction."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlmpipe.errors import FormulaError
from mlmpipe.formula import Design, FittedFormula, build_design, new_data_matrices, parse_formula


def test_na_rows_dropped_and_reported() -> None:
    data = pd.DataFrame(
        {
            "y": [1.0, np.nan, 3.0, 4.0, 5.0, 6.0],
            "x": [1.0, 2.0, None, 4.0, 5.0, 6.0],
            "f": ["a", "b", "b", None, "a", "b"],
            "g": [1, 1, 2, 2, np.nan, 3],
            "unused": [np.nan] * 6,
        }
    )
    d = build_design("y ~ x + f + (1|g)", data)
    assert isinstance(d, Design)
    assert d.rows.tolist() == [0, 5]
    np.testing.assert_allclose(d.y, [1.0, 6.0])
    assert d.re_terms[0].levels == ("1", "3")  # unused levels dropped after na.omit


def test_nan_from_transform_is_dropped_like_na() -> None:
    data = pd.DataFrame({"y": [1.0, 2.0, 3.0], "x": [1.0, -1.0, 2.0]})
    assert build_design("y ~ log(x)", data).rows.tolist() == [0, 2]


def test_unknown_column_message_names_column_and_formula(small) -> None:
    with pytest.raises(FormulaError) as err:
        build_design("y ~ x + nosuch + (1|g)", small)
    msg = str(err.value)
    assert "'nosuch'" in msg and "y ~ x + nosuch + (1|g)" in msg and "\n" not in msg


def test_inf_is_an_error_naming_the_column(small) -> None:
    bad = small.assign(x=small["x"].where(small.index != 3, np.inf))
    with pytest.raises(FormulaError, match="column 'x' has infinite values"):
        build_design("y ~ x + (1|g)", bad)
    with pytest.raises(FormulaError, match="'log\\(z - 1\\)' has infinite"):
        build_design("y ~ log(z - 1)", small.assign(z=1.0 + np.arange(len(small))))


def test_cbind_response_and_offset() -> None:
    data = pd.DataFrame(
        {"s": [1, 2, 3, 0], "n": [4, 4, 5, 2], "t": [1.0, 2.0, 3.0, 4.0], "h": list("aabb")}
    )
    d = build_design("cbind(s, n - s) ~ 1 + offset(log(t)) + (1|h)", data)
    assert d.y.shape == (4, 2) and d.response == "cbind(s, n - s)"
    np.testing.assert_allclose(d.y[:, 1], [3, 2, 2, 2])
    np.testing.assert_allclose(d.offset, np.log([1.0, 2.0, 3.0, 4.0]))
    assert d.fixed_names == ("(Intercept)",)
    assert build_design("s ~ 1", data).offset is None


def test_response_expression(small) -> None:
    d = build_design("log(z) ~ x", small)
    np.testing.assert_allclose(d.y, np.log(small["z"]))
    assert d.response == "log(z)"


def test_spec_is_reusable_and_stored(small) -> None:
    spec = parse_formula("y ~ x + f + (1|g)")
    d = build_design(spec, small)
    assert isinstance(d.spec, FittedFormula) and d.spec.formula is spec
    assert d.spec.fixed_assign == (0, 1, 2, 2)


def test_new_data_reuses_fitted_levels(small) -> None:
    d = build_design("y ~ x*f + (x|g) + (1|f:h)", small)
    new = pd.DataFrame(
        {"x": [0.5, 1.0, np.nan], "f": ["c", "b", "a"], "h": ["v", "w", "u"], "g": [3, 999, 1]}
    )
    X, codes, Zs, offset = new_data_matrices(d, new)
    assert X.shape == (3, len(d.fixed_names)) and offset is None
    # columns: (Intercept) x fb fc x:fb x:fc
    np.testing.assert_allclose(X[0], [1, 0.5, 0, 1, 0, 0.5])
    np.testing.assert_allclose(X[1], [1, 1.0, 1, 0, 1.0, 0])
    assert np.isnan(X[2, 1]) and X[2, 2] == 0
    g_levels = d.re_terms[0].levels
    assert codes[0].tolist() == [g_levels.index("3"), -1, g_levels.index("1")]
    fh = d.re_terms[1].levels
    assert codes[1].tolist() == [fh.index("c:v"), -1, fh.index("a:u")]
    np.testing.assert_allclose(Zs[0][:2], [[1, 0.5], [1, 1.0]])


def test_new_data_reproduces_fit_matrices(small) -> None:
    formula = "y ~ scale(x) + f*b + (0 + f|g) + (1|g:h)"
    d = build_design(formula, small)
    X, codes, Zs, _ = new_data_matrices(d, small.drop(columns="y"))
    np.testing.assert_allclose(X, d.X)
    for t, c, z in zip(d.re_terms, codes, Zs, strict=True):
        np.testing.assert_array_equal(c, t.codes)
        np.testing.assert_allclose(z, t.Z)


def test_new_data_single_row_keeps_contrasts(hsb: pd.DataFrame) -> None:
    d = build_design("mAch ~ meanses*cses + sector*cses + (cses|school)", hsb)
    new = pd.DataFrame({"meanses": [0.1], "cses": [1.0], "sector": ["Catholic"], "school": [1224]})
    X, codes, _, _ = new_data_matrices(d, new)
    np.testing.assert_allclose(X[0], [1, 0.1, 1.0, 1.0, 0.1, 1.0])
    assert codes[0].tolist() == [0]


def test_new_level_of_fixed_factor_is_an_error(small) -> None:
    d = build_design("y ~ f + (1|g)", small)
    with pytest.raises(FormulaError, match="factor 'f' has new levels zz"):
        new_data_matrices(d, pd.DataFrame({"f": ["zz"], "g": [1]}))


def test_hsb_and_large_data_are_fast(hsb: pd.DataFrame) -> None:
    start = time.perf_counter()
    build_design("mAch ~ meanses*cses + sector*cses + (cses|school)", hsb)
    assert time.perf_counter() - start < 0.2
    rng = np.random.default_rng(0)
    n = 400_000
    big = pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "x": rng.normal(size=n),
            "f": rng.choice(list("abcd"), n),
            "g": rng.integers(0, 5000, n),
            "h": rng.choice([f"h{i}" for i in range(300)], n),
        }
    )
    start = time.perf_counter()
    d = build_design("y ~ x*f + (x|g) + (1|h) + (1|g:h)", big)
    assert time.perf_counter() - start < 3.0
    assert d.X.shape == (n, 8)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(5, 60),
    frac=st.floats(0.0, 0.5),
    seed=st.integers(0, 2**31),
)
def test_rows_are_exactly_the_complete_cases(n: int, frac: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    x[rng.random(n) < frac] = np.nan
    g = rng.integers(0, 3, n).astype(float)
    g[rng.random(n) < frac] = np.nan
    data = pd.DataFrame({"y": rng.normal(size=n), "x": x, "g": g, "z": np.nan})
    complete = np.flatnonzero(~np.isnan(x) & ~np.isnan(g))
    if len(np.unique(g[complete])) < 2:
        with pytest.raises(FormulaError):
            build_design("y ~ x + (1|g)", data)
        return
    d = build_design("y ~ x + (1|g)", data)
    assert d.rows.tolist() == complete.tolist()
    np.testing.assert_allclose(d.X[:, 1], x[complete])
    assert len(d.y) == len(d.re_terms[0].codes) == len(complete)
