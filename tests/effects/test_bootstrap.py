"""Parametric bootstrap: reproducible from (seed, batch), intervals cover the simulated truth."""

import numpy as np
import pandas as pd
import pytest

import mlmpipe
from mlmpipe.inference.bootstrap import bootstrap_batch, percentile_intervals
from mlmpipe.record.capture import record_from_result


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(11)
    g = np.repeat(np.arange(30), 8)
    x = rng.normal(size=g.size)
    y = 2.0 + 0.7 * x + rng.normal(scale=1.0, size=30)[g] + rng.normal(scale=0.5, size=g.size)
    d = pd.DataFrame({"y": y, "x": x, "g": g})
    fit = record_from_result(mlmpipe.fit("y ~ x + (1 | g)", d), model="small")
    return d, fit


def test_batches_are_reproducible_and_independent(small):
    d, fit = small
    a = bootstrap_batch(fit, d, 5, seed=1, batch=0)
    b = bootstrap_batch(fit, d, 5, seed=1, batch=0)
    c = bootstrap_batch(fit, d, 5, seed=1, batch=1)
    assert a["replicates"] == b["replicates"]
    assert a["replicates"][0] != c["replicates"][0]
    assert not a["failures"]


def test_percentile_intervals_pool_batches(small):
    d, fit = small
    batches = [bootstrap_batch(fit, d, 20, seed=3, batch=k) for k in range(2)]
    out = percentile_intervals(batches, fit, level=0.9)
    rows = {r["parameter"]: r for r in out["intervals"]}
    assert out["resamples"] == 40 and rows["sigma"]["replicates"] == 40
    assert set(rows) >= {"sd_(Intercept)|g", "sigma", "(Intercept)", "x"}
    # the parametric bootstrap centres on the estimates it simulated from
    assert rows["sigma"]["low"] < fit.sigma < rows["sigma"]["high"]
    slope = next(f.estimate for f in fit.fixed if f.term == "x")
    assert rows["x"]["low"] < slope < rows["x"]["high"]
    se = next(f.se for f in fit.fixed if f.term == "x")
    assert rows["x"]["bootstrap_se"] == pytest.approx(se, rel=0.35)


def test_batch_sizes_split_resamples_evenly():
    from mlmpipe.steps.inference import batch_sizes

    assert batch_sizes(10, 4) == [3, 3, 2, 2]
    assert batch_sizes(3, 4) == [1, 1, 1, 0]
    assert sum(batch_sizes(1000, 7)) == 1000
