"""Predictions from a fitted model: in-sample equals fitted; unseen groups get X beta."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlmpipe


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(7)
    n, m = 400, 25
    g = rng.integers(0, m, n)
    x = rng.normal(size=n)
    f = rng.choice(["a", "b", "c"], size=n)
    u = rng.normal(size=(m, 2))
    y = 1 + 0.5 * x + (f == "b") * 0.3 + u[g, 0] + u[g, 1] * x + rng.normal(size=n)
    df = pd.DataFrame({"y": y, "x": x, "f": f, "g": [f"s{i}" for i in g]})
    return df, mlmpipe.fit("y ~ x + f + (x | g)", df, df_method="none")


def test_in_sample_prediction_equals_fitted(fitted):
    df, res = fitted
    np.testing.assert_allclose(res.predict(df), res.fitted(), rtol=1e-10)
    np.testing.assert_allclose(res.fitted() + res.residuals(), df["y"].to_numpy(), rtol=1e-12)


def test_population_prediction_and_unseen_groups(fitted):
    df, res = fitted
    new = pd.DataFrame({"x": [0.0, 1.0], "f": ["a", "b"], "g": ["never-seen", df.g.iloc[0]]})
    beta = res.fixef
    pop = np.array([beta["(Intercept)"], beta["(Intercept)"] + beta["x"] + beta["fb"]])
    np.testing.assert_allclose(res.predict(new, re=False), pop, rtol=1e-12)
    with_re = res.predict(new, re=True)
    assert with_re[0] == pytest.approx(pop[0])  # unseen school: population prediction
    b = res.ranef()["g"].loc[df.g.iloc[0]]
    assert with_re[1] == pytest.approx(pop[1] + b["(Intercept)"] + b["x"])


def test_to_dict_layout(fitted):
    _, res = fitted
    d = res.to_dict()
    for key in (
        "loglik",
        "aic",
        "bic",
        "deviance",
        "reml",
        "nobs",
        "ngroups",
        "fixed",
        "random",
        "converged",
        "singular",
        "warnings",
        "ranef",
        "sigma",
        "theta",
        "optimizer",
    ):
        assert key in d
    assert d["ngroups"] == {"g": 25}
    assert [r["term"] for r in d["fixed"]] == ["(Intercept)", "x", "fb", "fc"]
    assert [(r["group"], r["term1"], r["term2"]) for r in d["random"]] == [
        ("g", "(Intercept)", None),
        ("g", "x", None),
        ("g", "(Intercept)", "x"),
        ("Residual", None, None),
    ]
    assert len(d["ranef"]["g"]["values"]) == 25 and len(d["ranef"]["g"]["condsd"][0]) == 2
    assert "Random effects:" in res.summary() and "fb" in res.summary()
