"""Multiple-membership terms: syntax, Z construction and bad inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlmpipe.engine.remat import ReMat
from mlmpipe.errors import FormulaError
from mlmpipe.formula import build_design, parse_formula, render


def _data() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "y": [1.0, 2.0, 3.0, 4.0, 5.0],
            "s1": [1, 1, 2, 3, 2],
            "s2": [2, np.nan, 3, 3, np.nan],
            "w1": [1.0, 2.0, 3.0, 1.0, 4.0],
            "w2": [3.0, 0.0, 1.0, 1.0, np.nan],
        }
    )


def test_render_round_trip() -> None:
    f = "y ~ x + (x | mm(s1, s2, weights = cbind(w1, w2), scale = FALSE)) + (1 | nb)"
    spec = parse_formula(f)
    assert render(spec) == f
    assert parse_formula(render(spec)).random == spec.random
    assert spec.random[0].membership.weights == ("w1", "w2")
    assert spec.random[0].membership.scale is False


def test_z_weights_normalised_and_empty_slots() -> None:
    d = build_design("y ~ 1 + (1 | mm(s1, s2, weights = cbind(w1, w2)))", _data())
    Z = ReMat(d.re_terms[0], "g").Z().toarray()
    expect = np.array(
        [[0.25, 0.75, 0], [1, 0, 0], [0, 0.75, 0.25], [0, 0, 1], [0, 1, 0]], dtype=float
    )
    np.testing.assert_allclose(Z, expect)
    raw = build_design("y ~ 1 + (1 | mm(s1, s2, weights = cbind(w1, w2), scale = FALSE))", _data())
    Zr = ReMat(raw.re_terms[0], "g").Z().toarray()
    np.testing.assert_allclose(Zr[0], [1, 3, 0])
    np.testing.assert_allclose(Zr[3], [0, 0, 2])  # the same school in two slots: weights summed


def test_single_membership_equals_plain_term() -> None:
    data = _data().assign(s2=np.nan, w2=0.0)
    d = build_design("y ~ 1 + (1 | mm(s1, s2, weights = cbind(w1, w2)))", data)
    p = build_design("y ~ 1 + (1 | s1)", data)
    np.testing.assert_allclose(
        ReMat(d.re_terms[0], "g").Z().toarray(), ReMat(p.re_terms[0], "g").Z().toarray()
    )


@pytest.mark.parametrize(
    ("change", "formula", "match"),
    [
        (
            {"w1": [-1.0, 2, 3, 1, 4]},
            None,
            "negative weights in column\\(s\\) w1 in 1 row\\(s\\): 0",
        ),
        (
            {"w1": [0.0, 2, 3, 1, 4], "w2": [0.0, 0, 1, 1, 0]},
            None,
            "no membership .* row\\(s\\): 0",
        ),
        ({"w2": [3.0, 1, 1, 1, 0]}, None, "weight without a cluster ID .*'w2'.* 1 row\\(s\\): 1"),
        ({}, "y ~ (1 | mm(s1, s2, weights = cbind(w1)))", "2 ID columns \\(s1, s2\\) but 1"),
    ],
)
def test_bad_inputs(change: dict, formula: str | None, match: str) -> None:
    data = _data().assign(**change)
    f = formula or "y ~ 1 + (1 | mm(s1, s2, weights = cbind(w1, w2)))"
    with pytest.raises(FormulaError, match=match):
        build_design(f, data)
