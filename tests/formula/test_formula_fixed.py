"""Fixed-effects model matrix: contrasts, column names and order as R's model.matrix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlmpipe.errors import FormulaError
from mlmpipe.formula import build_design
from mlmpipe.formula.fixed import _poly_contrasts


def names(formula: str, data: pd.DataFrame) -> tuple[str, ...]:
    return build_design(formula, data).fixed_names


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("y ~ x + f", ("(Intercept)", "x", "fb", "fc")),
        ("y ~ 0 + f + x", ("fa", "fb", "fc", "x")),
        ("y ~ x - 1 + f", ("x", "fa", "fb", "fc")),
        ("y ~ f*h", ("(Intercept)", "fb", "fc", "hv", "fb:hv", "fc:hv")),
        ("y ~ f:h", ("(Intercept)", "fa:hu", "fb:hu", "fc:hu", "fa:hv", "fb:hv", "fc:hv")),
        ("y ~ f + f:h", ("(Intercept)", "fb", "fc", "fa:hv", "fb:hv", "fc:hv")),
        ("y ~ x:f", ("(Intercept)", "x:fa", "x:fb", "x:fc")),
        ("y ~ x + x:f", ("(Intercept)", "x", "x:fb", "x:fc")),
        ("y ~ h:f + f", ("(Intercept)", "fb", "fc", "hv:fa", "hv:fb", "hv:fc")),
        ("y ~ 0 + x:f + h", ("hu", "hv", "x:fa", "x:fb", "x:fc")),
        ("y ~ I(x/2) + I(x*2)", ("(Intercept)", "I(x/2)", "I(x * 2)")),
        ("y ~ f/x", ("(Intercept)", "fb", "fc", "fa:x", "fb:x", "fc:x")),
        ("y ~ (x + z)^2", ("(Intercept)", "x", "z", "x:z")),
        (
            "y ~ (x + f + h)^2 - 1",
            ("x", "fa", "fb", "fc", "hv", "x:fb", "x:fc", "x:hv", "fb:hv", "fc:hv"),
        ),
        ("y ~ b", ("(Intercept)", "bTRUE")),
        ("y ~ 0 + b", ("bFALSE", "bTRUE")),
        ("y ~ I(x^2) + log(z) + scale(x)", ("(Intercept)", "I(x^2)", "log(z)", "scale(x)")),
        ("y ~ factor(g)", ("(Intercept)",) + tuple(f"factor(g){i}" for i in range(2, 12))),
        ("y ~ 1", ("(Intercept)",)),
        ("y ~ 0", ()),
    ],
)
def test_column_names_match_r(formula: str, expected: tuple[str, ...], small) -> None:
    assert names(formula, small) == expected


def test_hsb_columns_and_values(hsb: pd.DataFrame) -> None:
    d = build_design("mAch ~ meanses*cses + sector*cses + (cses|school)", hsb)
    assert d.fixed_names == (
        "(Intercept)",
        "meanses",
        "cses",
        "sectorCatholic",
        "meanses:cses",
        "cses:sectorCatholic",
    )
    catholic = (hsb["sector"] == "Catholic").to_numpy(float)
    np.testing.assert_array_equal(d.X[:, 3], catholic)
    np.testing.assert_allclose(d.X[:, 5], hsb["cses"] * catholic)
    np.testing.assert_allclose(d.X[:, 4], hsb["meanses"] * hsb["cses"])


def test_hsb_plain_strings_sort_alphabetically(hsb: pd.DataFrame) -> None:
    plain = hsb.assign(sector=hsb["sector"].astype(str))
    assert "sectorPublic" in names("mAch ~ sector", plain)


def test_interaction_values_first_variable_fastest(small) -> None:
    d = build_design("y ~ 0 + f:h", small)
    f, h = small["f"].to_numpy(), small["h"].to_numpy()
    for j, (fl, hl) in enumerate([(a, b) for b in "uv" for a in "abc"]):
        np.testing.assert_array_equal(d.X[:, j], ((f == fl) & (h == hl)).astype(float))


def test_ordered_factor_uses_poly_contrasts() -> None:
    cat = pd.Categorical(list("lmhlmh"), categories=["l", "m", "h"], ordered=True)
    data = pd.DataFrame({"y": np.arange(6.0), "o": cat})
    d = build_design("y ~ o", data)
    assert d.fixed_names == ("(Intercept)", "o.L", "o.Q")
    np.testing.assert_allclose(d.X[:3, 1], [-np.sqrt(0.5), 0.0, np.sqrt(0.5)], atol=1e-12)
    np.testing.assert_allclose(d.X[:3, 2], np.array([1.0, -2.0, 1.0]) / np.sqrt(6))


def test_poly_contrasts_orthonormal() -> None:
    c = _poly_contrasts(5)
    np.testing.assert_allclose(c.T @ c, np.eye(4), atol=1e-12)
    np.testing.assert_allclose(c.sum(axis=0), 0, atol=1e-12)


def test_single_level_factor_with_contrasts_is_an_error() -> None:
    data = pd.DataFrame({"y": [1.0, 2.0], "f": ["a", "a"]})
    with pytest.raises(FormulaError, match="'f' has only one level"):
        build_design("y ~ f", data)


@settings(max_examples=40, deadline=None)
@given(
    levels=st.lists(st.integers(2, 5), min_size=1, max_size=3),
    seed=st.integers(0, 2**31),
)
def test_additive_factor_columns_and_rank(levels: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 200
    cols = {f"f{i}": rng.choice([f"L{j}" for j in range(k)], n) for i, k in enumerate(levels)}
    data = pd.DataFrame({"y": rng.normal(size=n), **cols})
    for k, name in zip(levels, cols, strict=True):  # every level observed
        data.loc[: k - 1, name] = [f"L{j}" for j in range(k)]
    d = build_design("y ~ " + " + ".join(cols), data)
    assert d.X.shape[1] == 1 + sum(k - 1 for k in levels)
    assert np.linalg.matrix_rank(d.X) == d.X.shape[1]
    full = build_design("y ~ " + " * ".join(cols), data)
    assert full.X.shape[1] == int(np.prod(levels))
