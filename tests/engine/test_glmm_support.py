"""Bad GLMM input: outcome outside the family's support, impossible nagq/link, separation."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import mlmpipe
from mlmpipe.errors import DataValidationError, EstimationError


def data(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return pd.DataFrame(
        {
            "y": rng.integers(0, 2, n).astype(float),
            "k": rng.poisson(2.0, n),
            "s": rng.integers(0, 5, n),
            "t": 5,
            "x": rng.normal(size=n),
            "g": np.repeat(np.arange(8), n // 8),
            "h": np.arange(n) % 3,
        }
    )


def test_binary_outcome_other_than_0_1_names_column_and_rows() -> None:
    df = data()
    df.loc[[3, 7], "y"] = 2.0
    with pytest.raises(DataValidationError, match=r"response y: .*0/1.*\[2\.0\].*rows 3, 7"):
        mlmpipe.fit("y ~ x + (1 | g)", df, family="binomial")


def test_negative_or_fractional_counts() -> None:
    df = data()
    df.loc[5, "k"] = -1
    with pytest.raises(DataValidationError, match=r"response k: counts .* rows 5"):
        mlmpipe.fit("k ~ x + (1 | g)", df, family="poisson")


def test_trials_below_successes() -> None:
    df = data()
    df.loc[[1, 2], "s"] = 7  # more successes than the 5 trials
    with pytest.raises(
        DataValidationError, match=r"cbind\(s, t - s\).*trials < successes.*rows 1, 2"
    ):
        mlmpipe.fit("cbind(s, t - s) ~ x + (1 | g)", df, family="binomial")


def test_nagq_needs_one_scalar_term() -> None:
    with pytest.raises(EstimationError, match="single scalar random-effects term"):
        mlmpipe.fit("y ~ x + (1 | g) + (1 | h)", data(), family="binomial", nagq=5)
    with pytest.raises(EstimationError, match="nagq: must be between 0 and 25"):
        mlmpipe.fit("y ~ x + (1 | g)", data(), family="binomial", nagq=30)


def test_unknown_family_or_link() -> None:
    with pytest.raises(EstimationError, match="link: 'log' is not available for family 'binomial'"):
        mlmpipe.fit("y ~ x + (1 | g)", data(), family="binomial", link="log")
    with pytest.raises(EstimationError, match="family: unknown value 'gamma'"):
        mlmpipe.fit("y ~ x + (1 | g)", data(), family="gamma")


def test_quasi_complete_separation_is_reported() -> None:
    df = data(80)
    df["d"] = (np.arange(80) % 4 == 0).astype(float)
    df["g"] = np.repeat(np.arange(10), 8)
    df.loc[df.d == 1, "y"] = 1.0
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        res = mlmpipe.fit("y ~ d + (1 | g)", df, family="binomial")
    assert any("separation" in w and "d = 1" in w for w in res.warnings)
