"""Separation by continuous predictors: the linear-programming check (``engine/separation.py``)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from mlmpipe.engine.family import make_family
from mlmpipe.engine.glmm import GeneralizedLinearMixedModel
from mlmpipe.engine.separation import CHUNK, separating_direction, separation_message
from mlmpipe.formula import build_design


def design(n: int = 200, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x, z = rng.normal(size=n), rng.normal(size=n)
    return np.column_stack([np.ones(n), x, z]), x, z


def test_complete_separation_by_a_continuous_predictor() -> None:
    X, x, _ = design()
    y = (x > 0).astype(float)
    d, complete = separating_direction(X, y, 1 - y)
    assert complete
    assert d[1] > 0  # successes lie on the positive side of x
    m = X @ d
    assert np.all(m[y == 1] >= -1e-7) and np.all(m[y == 0] <= 1e-7)
    msg = separation_message(X, ["(Intercept)", "x", "z"], y, 1 - y)
    assert msg.startswith("complete separation") and "x" in msg


def test_quasi_complete_separation_by_a_combination() -> None:
    """y = 1 iff x + z > 0, plus one point on the boundary observed with both outcomes: only the
    combination separates, and only quasi-completely (that point has margin 0 in any direction)."""
    X, x, z = design()
    y = (x + z > 0).astype(float)
    X = np.vstack([X, [1.0, 0.5, -0.5], [1.0, 0.5, -0.5]])
    y = np.r_[y, 1.0, 0.0]
    d, complete = separating_direction(X, y, 1 - y)
    assert not complete
    assert d[1] > 0 and d[2] > 0
    msg = separation_message(X, ["(Intercept)", "x", "z"], y, 1 - y)
    assert msg.startswith("quasi-complete separation") and "x, z" in msg
    assert separation_message(X[:, :2], ["(Intercept)", "x"], y, 1 - y) is None


def test_overlapping_data_are_not_flagged() -> None:
    X, x, _ = design()
    y = (x > 0).astype(float)
    y[np.argsort(x)[150]] = 0.0  # a failure well inside the successes
    assert separating_direction(X, y, 1 - y) is None
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, x.size).astype(float)
    assert separating_direction(X, y, 1 - y) is None


def test_binomial_trials_rows_with_both_outcomes_pin_the_direction() -> None:
    """A row with successes and failures forces x'd = 0: 1 success in 2 trials at x = 0.1 breaks
    the separation at 0 that the 0/1 rows alone would have."""
    x = np.array([-2.0, -1.0, 1.0, 2.0, 0.1])
    X = np.column_stack([np.ones(5), x])
    s, f = np.array([0, 0, 3, 3, 0]), np.array([3, 3, 0, 0, 0])
    assert separating_direction(X, s, f) is not None
    s[4], f[4] = 1, 1
    assert separating_direction(X, s, f) is not None  # the boundary can pass through x = 0.1
    s[0] = 1  # a success at x = -2: now no direction keeps every row on its side
    assert separating_direction(X, s, f) is None


def test_constraint_generation_on_more_rows_than_one_chunk() -> None:
    """Beyond CHUNK rows the LP is solved on subsets; the answer is that of the whole data: a
    single overlapping row among 3 * CHUNK separated ones is found, and so is separation."""
    rng = np.random.default_rng(7)
    n = 3 * CHUNK
    x = rng.normal(size=n)
    X = np.column_stack([np.ones(n), x, rng.normal(size=n)])
    y = (x > 0).astype(float)
    assert separating_direction(X, y, 1 - y) is not None
    y[np.argmax(x)] = 0.0  # the most extreme x is a failure: overlap
    assert separating_direction(X, y, 1 - y) is None


def model_warnings(formula: str, df: pd.DataFrame) -> list[str]:
    """The data checks a binomial GLMM runs before fitting (their warnings go into the result)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fam = make_family("binomial", None)
        return GeneralizedLinearMixedModel(build_design(formula, df), fam).warnings


def test_glmm_reports_separation_by_a_continuous_predictor() -> None:
    rng = np.random.default_rng(11)
    n = 120
    df = pd.DataFrame({"x": rng.normal(size=n), "w": rng.normal(size=n)})
    df["g"] = np.repeat(np.arange(12), n // 12)
    df["y"] = (df["x"] > 0.3).astype(float)
    msgs = [m for m in model_warnings("y ~ x + w + (1 | g)", df) if "separation" in m]
    assert len(msgs) == 1 and "linear combination of x" in msgs[0]
    df["y"] = (rng.random(n) < 1 / (1 + np.exp(-df["x"]))).astype(float)
    assert not any("separation" in m for m in model_warnings("y ~ x + w + (1 | g)", df))


def test_indicator_separation_is_reported_once() -> None:
    """A separating 0/1 column gets the named-level message, not a second LP message."""
    rng = np.random.default_rng(5)
    n = 80
    df = pd.DataFrame({"x": rng.normal(size=n), "g": np.repeat(np.arange(10), 8)})
    df["d"] = (np.arange(n) % 4 == 0).astype(float)
    df["y"] = rng.integers(0, 2, n).astype(float)
    df.loc[df.d == 1, "y"] = 1.0
    msgs = [m for m in model_warnings("y ~ d + x + (1 | g)", df) if "separation" in m]
    assert len(msgs) == 1 and "d = 1" in msgs[0]


def test_rare_indicator_outside_the_first_subset() -> None:
    """A 0/1 column that is 1 on 5 rows out of 3 * CHUNK, none of them in the stride sample: the
    subset misses the column (rank deficient), the rows that reach outside its span are added,
    and the separation by the indicator is found (and not found once one of them is a failure)."""
    rng = np.random.default_rng(9)
    n = 3 * CHUNK
    rare = np.zeros(n)
    rare[[1, 2, 4, 5, 7]] = 1.0
    X = np.column_stack([np.ones(n), rng.normal(size=n), rare])
    y = rng.integers(0, 2, n).astype(float)
    y[rare == 1] = 1.0
    d, _ = separating_direction(X, y, 1 - y)
    assert d[2] > 0 and d[1] == 0
    y[4] = 0.0
    assert separating_direction(X, y, 1 - y) is None
