"""Little's MCAR test (EM estimates), missingness by cluster, indicator models."""

import numpy as np
import pandas as pd
import pytest

from mlmpipe.missing import missing_report
from mlmpipe.missing.indicators import indicator_models, missing_by_cluster
from mlmpipe.missing.mcar import em_mvnorm, little_mcar_test


def bivariate(n=2000, seed=1, mechanism="mcar"):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = 0.6 * x + rng.normal(size=n) * 0.8
    p = np.full(n, 0.3) if mechanism == "mcar" else 1 / (1 + np.exp(-2.5 * x))
    y = np.where(rng.random(n) < p, np.nan, y)
    return pd.DataFrame({"x": x, "y": y})


def test_em_matches_the_closed_form_monotone_ml():
    # one variable missing: ML mean of y = ybar_cc + b (xbar_all - xbar_cc) (Anderson 1957)
    df = bivariate(mechanism="mar")
    mu, sigma, _ = em_mvnorm(df.to_numpy())
    cc = df.dropna()
    b = np.polyfit(cc.x, cc.y, 1)[0]
    expected = cc.y.mean() + b * (df.x.mean() - cc.x.mean())
    assert mu[1] == pytest.approx(expected, abs=1e-8)
    assert mu[0] == pytest.approx(df.x.mean(), abs=1e-12)
    resid_var = np.var(cc.y - np.polyval(np.polyfit(cc.x, cc.y, 1), cc.x))
    assert sigma[1, 1] == pytest.approx(resid_var + b**2 * df.x.var(ddof=0), rel=1e-7)


def test_little_detects_mar_and_not_mcar():
    mar = little_mcar_test(bivariate(mechanism="mar"))
    mcar = little_mcar_test(bivariate(mechanism="mcar", seed=4))
    assert mar["df"] == 1 and mar["p"] < 1e-10
    assert mcar["p"] > 0.01
    full = little_mcar_test(bivariate().dropna())
    assert full["statistic"] == pytest.approx(0.0, abs=1e-9) and full["df"] == 0


def clustered():
    rng = np.random.default_rng(2)
    g = np.repeat(np.arange(30), 10)
    x = rng.normal(size=300)
    y = x + rng.normal(size=30)[g] + rng.normal(size=300)
    y[(rng.random(300) < 1 / (1 + np.exp(-2 * x)))] = np.nan
    y[g == 0] = np.nan
    return pd.DataFrame({"cl": g, "y": y, "x": x})


def test_by_cluster_and_indicator_model():
    df = clustered()
    bc = missing_by_cluster(df, "cl", ["y", "x"])
    assert bc["clusters"] == 30 and sum(b["clusters"] for b in bc["bands"]) == 30
    assert next(b for b in bc["bands"] if b["rows_incomplete"] == "all rows")["clusters"] >= 1
    models = indicator_models(df, "cl", ["y", "x"])
    assert [m["variable"] for m in models] == ["y"]  # x complete
    slope = next(p for p in models[0]["predictors"] if p["term"] == "x")
    assert (
        slope["estimate"] > 1 and slope["p"] < 1e-6 and "multilevel logistic" in models[0]["model"]
    )


def test_report_has_the_diagnostics_only_when_something_is_missing():
    levels = [("student", None, ["x"]), ("school", "cl", [])]
    rep = missing_report(clustered(), levels, "y")
    assert {"by_cluster", "little_mcar", "indicator_models"} <= set(rep)
    rep = missing_report(clustered().dropna(), levels, "y")
    assert "little_mcar" not in rep
