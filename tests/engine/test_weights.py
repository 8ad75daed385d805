"""Observation weights (lme4's ``lmer(weights=)``: residual variance sigma^2 / w_i): parity with lme4
on HSB, the dense marginal likelihood on the blocked and the crossed (sparse Schur) paths,
invariances, and the one-line errors for bad weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlmpipe
from mlmpipe import cli
from mlmpipe.engine import crossed
from mlmpipe.engine.fit import fit_design, fit_lmm
from mlmpipe.engine.lmm import LinearMixedModel
from mlmpipe.engine.weights import observation_weights
from mlmpipe.errors import DataValidationError, EstimationError, PlanError
from tests.engine.conftest import make_design
from tests.engine.dense import dense_Z_Lambda
from tests.engine.test_crossed import star_like

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "weights" / "lme4_weights.json"


def dense_weighted_criterion(model: LinearMixedModel, theta: np.ndarray, w: np.ndarray) -> float:
    """-2 log-likelihood (or REML criterion) of y ~ N(X beta, sigma^2 (Z Lam Lam'Z' + W^{-1})),
    maximized over beta and sigma, straight from the definition."""
    Z, Lam = dense_Z_Lambda(model, theta)
    X, y, n, p = model.X, model.y, model.n, model.p
    V = Z @ Lam @ Lam.T @ Z.T + np.diag(1.0 / w)
    Vi = np.linalg.inv(V)
    beta = np.linalg.solve(X.T @ Vi @ X, X.T @ Vi @ y)
    r = y - X @ beta
    q = r @ Vi @ r
    logdetV = np.linalg.slogdet(V)[1]
    if model.reml:
        nr = n - p
        return logdetV + np.linalg.slogdet(X.T @ Vi @ X)[1] + nr * (1 + np.log(2 * np.pi * q / nr))
    return logdetV + n * (1 + np.log(2 * np.pi * q / n))


# ------------------------------------------------------------------------ parity with lme4
@pytest.fixture(scope="module")
def hsb() -> pd.DataFrame:
    from tests.reference.datasets import load

    d = load("mlmRev::Hsb82")
    d["wt"] = np.exp(d["cses"] / 2)  # as tests/fixtures/weights/make_weights_fixtures.R
    return d


CASES = json.loads(FIXTURE.read_text(encoding="utf-8"))["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_parity_with_lmer_weights(hsb, case):
    res = mlmpipe.fit(case["formula"], hsb, reml=case["REML"], weights="wt")
    ft = res.fixed_table()
    assert list(ft.term) == [f["term"] for f in case["fixed"]]
    np.testing.assert_allclose(ft.estimate, [f["estimate"] for f in case["fixed"]], atol=1e-4)
    np.testing.assert_allclose(ft.se, [f["se"] for f in case["fixed"]], atol=1e-4)
    # Satterthwaite df: both sides differentiate numerically (measured within 6e-5)
    np.testing.assert_allclose(ft.df, [f["df"] for f in case["fixed"]], rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(res.varcorr().vcov, [r["vcov"] for r in case["random"]], atol=1e-4)
    assert res.sigma == pytest.approx(case["sigma"], abs=1e-4)
    assert res.loglik == pytest.approx(case["loglik"], abs=1e-6)
    assert res.criterion == pytest.approx(case["deviance"], abs=2e-6)
    assert res.aic == pytest.approx(case["AIC"], abs=2e-6)
    assert res.nobs == case["nobs"]
    np.testing.assert_allclose(res.fitted()[:10], case["fitted_head"], atol=1e-5)
    np.testing.assert_allclose(res.residuals()[:10], case["resid_head"], atol=1e-5)
    d = res.to_dict()
    assert d["weights"] == "wt"
    assert d["loglik"] == pytest.approx(case["loglik"], abs=1e-6)


def test_weights_array_equals_column_and_cli(hsb, tmp_path):
    by_col = mlmpipe.fit("mAch ~ cses + (1|school)", hsb, weights="wt")
    by_arr = mlmpipe.fit("mAch ~ cses + (1|school)", hsb, weights=hsb["wt"].to_numpy())
    np.testing.assert_array_equal(by_col.beta, by_arr.beta)
    assert by_arr.to_dict()["weights"] == "<array>"
    csv = tmp_path / "hsb.csv"
    hsb[["mAch", "cses", "school", "wt"]].to_csv(csv, index=False)
    out = tmp_path / "fit.json"
    argv = ["fit", "mAch ~ cses + (1|school)", "--data", str(csv), "--weights", "wt"]
    assert cli.main([*argv, "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    assert d["weights"] == "wt"
    assert d["loglik"] == pytest.approx(by_col.loglik, abs=1e-8)
    assert cli.main([*argv[:-1], "mAch", "--json", str(out)]) == 2  # mAch has negative values


# ---------------------------------------------- the engine against the dense definition
@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("nested", [True, False])
def test_weighted_objective_equals_dense_likelihood(rng, reml, nested):
    d = make_design(rng, n=160, groups=((20, 2), (6, 1)), nested=nested)
    w = rng.uniform(0.2, 3.0, size=d.y.size)
    model = LinearMixedModel(d, reml=reml, weights=w)
    theta = np.array([0.9, -0.3, 0.4, 0.7])
    assert model.objective(theta) == pytest.approx(
        dense_weighted_criterion(model, theta, w), rel=1e-10
    )


@pytest.mark.filterwarnings("ignore::mlmpipe.errors.SingularFitWarning")  # both paths agree there
@pytest.mark.parametrize("mode", ["sparse", "dense"])
@pytest.mark.parametrize("reml", [True, False])
def test_weights_on_the_crossed_path(rng, monkeypatch, mode, reml):
    monkeypatch.setattr(crossed, "MIN_SIZE", 0)
    monkeypatch.setattr(crossed, "MAX_FILL", 1.0 if mode == "sparse" else -1.0)
    d = star_like(rng, n_sch=4, per_grade=2, size=5)
    w = rng.uniform(0.3, 2.5, size=d.y.size)
    model = LinearMixedModel(d, reml=reml, weights=w)
    theta = np.array([1.2, 0.6, 0.4])
    f = model.factorize_deviance(theta)
    assert isinstance(model._crossed, crossed.CrossedSchur)  # the sparse Schur path was taken
    assert model.deviance_from(f) == pytest.approx(
        dense_weighted_criterion(model, theta, w), rel=1e-10
    )
    assert model.deviance_from(f) == pytest.approx(
        model.deviance_from(model.factorize(theta)), rel=1e-11
    )
    res = fit_design(d, reml=reml, weights=w)
    assert isinstance(res.model._crossed, crossed.CrossedSchur)
    # the same fit on the blocked factor only
    monkeypatch.setattr(crossed, "MIN_SIZE", 10**9)
    ref = fit_design(d, reml=reml, weights=w)
    assert ref.model._crossed is None
    assert res.loglik == pytest.approx(ref.loglik, abs=1e-7)
    np.testing.assert_allclose(res.beta, ref.beta, rtol=1e-5)
    np.testing.assert_allclose(res.df, ref.df, rtol=1e-3)


def test_unit_weights_and_scale_invariance(rng):
    d = make_design(rng, n=150, groups=((15, 2), (5, 1)))
    plain = fit_design(d, reml=True)
    ones = fit_design(d, reml=True, weights=np.ones(d.y.size))
    np.testing.assert_allclose(ones.beta, plain.beta, rtol=1e-12)
    assert ones.loglik == pytest.approx(plain.loglik, abs=1e-9)
    np.testing.assert_allclose(ones.df, plain.df, rtol=1e-6)
    # w -> c w: sigma -> sqrt(c) sigma, the same variance components, beta, SEs and likelihood
    w = rng.uniform(0.5, 2.0, size=d.y.size)
    a = fit_design(d, reml=False, weights=w)
    b = fit_design(d, reml=False, weights=4.0 * w)
    np.testing.assert_allclose(b.beta, a.beta, rtol=1e-6)
    assert b.sigma == pytest.approx(2.0 * a.sigma, rel=1e-6)
    assert b.loglik == pytest.approx(a.loglik, abs=1e-6)
    np.testing.assert_allclose(np.diag(b.vcov), np.diag(a.vcov), rtol=1e-5)
    vc_a = a.varcorr().vcov.to_numpy()[:-1]
    vc_b = b.varcorr().vcov.to_numpy()[:-1]
    np.testing.assert_allclose(vc_b, vc_a, rtol=1e-5, atol=1e-8)
    assert not np.allclose(a.beta, plain.beta, rtol=1e-6)  # the weights do change the fit


# ------------------------------------------------------------------------- bad weights
def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 60
    return pd.DataFrame(
        {
            "y": rng.normal(size=n) + np.repeat(rng.normal(size=10) * 2, 6),
            "x": rng.normal(size=n),
            "g": np.repeat(np.arange(10), 6),
            "w": np.full(n, 1.5),
        },
        index=[f"r{i}" for i in range(n)],
    )


@pytest.mark.parametrize(
    "value,what",
    [(-1.0, "negative"), (0.0, "zero"), (np.nan, "missing"), (np.inf, "infinite")],
)
def test_bad_weight_values_are_one_line_errors(value, what):
    df = _frame()
    df.loc[["r4", "r17"], "w"] = value
    with pytest.raises(DataValidationError) as exc:
        mlmpipe.fit("y ~ x + (1|g)", df, weights="w")
    msg = str(exc.value)
    assert "\n" not in msg
    assert f"column 'w' has {what} values on 2 row(s), e.g. r4, r17" in msg


def test_non_numeric_and_misnamed_weights():
    df = _frame()
    df["w"] = df["w"].astype(object)
    df.loc["r9", "w"] = "heavy"
    with pytest.raises(
        DataValidationError, match=r"column 'w' is not numeric \(1 row\(s\), e\.g\. r9\)"
    ):
        mlmpipe.fit("y ~ x + (1|g)", df, weights="w")
    df.loc["r9", "w"] = "2.5"  # numbers stored as text are read as numbers
    res = mlmpipe.fit("y ~ x + (1|g)", df, weights="w")
    assert res.model.weights[9] == 2.5
    with pytest.raises(DataValidationError, match="column 'wt' is not in the data"):
        mlmpipe.fit("y ~ x + (1|g)", df, weights="wt")
    with pytest.raises(DataValidationError, match="59 values for 60 data rows"):
        mlmpipe.fit("y ~ x + (1|g)", df, weights=np.ones(59))
    with pytest.raises(DataValidationError, match="is not numeric"):
        observation_weights(pd.Series([True] * 60, index=df.index), df, np.arange(60))


def test_weights_only_checked_on_rows_the_model_uses():
    df = _frame()
    df.loc["r3", ["y", "w"]] = np.nan  # dropped for its response, as lme4's na.omit
    res = fit_lmm("y ~ x + (1|g)", df, weights="w")
    assert res.nobs == 59


def test_weights_where_not_supported():
    df = _frame()
    df["yb"] = (df["y"] > 0).astype(int)
    with pytest.raises(PlanError, match="estimation.weights: .*family 'gaussian'"):
        mlmpipe.fit("yb ~ x + (1|g)", df, family="binomial", weights="w")
    with pytest.raises(PlanError, match="backend 'statsmodels'"):
        mlmpipe.fit("y ~ x + (1|g)", df, backend="statsmodels", weights="w")
    with pytest.raises(EstimationError, match="kenward_roger is not available with observation"):
        mlmpipe.fit("y ~ x + (1|g)", df, weights="w", df_method="kenward_roger")
