"""Randomized quantile residuals (Dunn & Smyth 1996) and surrogate residuals (Liu & Zhang 2018):
standard normal / logistic under the model that generated the data (at the true parameters and
after fitting with our engine), rejected under a misspecified mean, deterministic under the seed,
and the surrogate residuals inside the interval the thresholds give the observed category."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

import mlmpipe
from mlmpipe.diagnostics import (
    glmm_residual_diagnostics,
    glmm_residuals,
    randomized_quantile_residuals,
    residual_diagnostics,
    residual_summary_line,
    response_columns,
    surrogate_residuals,
)
from mlmpipe.diagnostics.glmm_residuals import trend_tests
from mlmpipe.errors import EstimationError
from mlmpipe.record.capture import record_from_result

N = 20_000


def _eta(rng, n=N, quad=0.0):
    x = rng.normal(size=n)
    return x, -0.3 + 0.8 * x + quad * x**2 + rng.normal(0, 0.6, n)


# ------------------------------------------------------------ at the true parameters
@pytest.mark.parametrize("family", ["bernoulli", "trials", "poisson", "negbin"])
def test_quantile_residuals_are_standard_normal_at_the_true_model(family):
    rng = np.random.default_rng(11)
    _x, eta = _eta(rng)
    if family in ("bernoulli", "trials"):
        mu = special.expit(eta)
        n = np.ones(N) if family == "bernoulli" else rng.integers(1, 12, N).astype(float)
        y, wt, k, fam = rng.binomial(n.astype(int), mu) / n, n, None, "binomial"
    else:
        mu = np.exp(eta)
        k = 1.5 if family == "negbin" else None
        y = rng.poisson(mu) if k is None else rng.negative_binomial(k, k / (k + mu))
        wt, fam = None, family
    r = randomized_quantile_residuals(fam, y, mu, wt, k, seed=5)
    assert np.all(np.isfinite(r))
    assert stats.kstest(r, "norm").pvalue > 0.01
    assert abs(r.mean()) < 0.03 and abs(r.std() - 1) < 0.03


def test_quantile_residuals_reject_a_wrong_model():
    rng = np.random.default_rng(12)
    x, eta = _eta(rng, quad=0.5)
    mu = np.exp(eta)
    y = rng.poisson(mu)
    mu_lin = np.exp(-0.3 + 0.8 * x + 0.5)  # omitted quadratic term (level matched roughly)
    assert (
        stats.kstest(randomized_quantile_residuals("poisson", y, mu_lin, seed=1), "norm").pvalue
        < 1e-6
    )
    k = 1.0
    y_nb = rng.negative_binomial(k, k / (k + mu))  # overdispersed counts read as Poisson
    assert (
        stats.kstest(randomized_quantile_residuals("poisson", y_nb, mu, seed=1), "norm").pvalue
        < 1e-6
    )
    assert (
        stats.kstest(randomized_quantile_residuals("negbin", y_nb, mu, k=k, seed=1), "norm").pvalue
        > 0.01
    )


def test_quantile_residual_formula_on_a_fixed_draw():
    """Poisson y = 2, mu = 1.5 and binomial 3 of 5 at p = 0.4, against the closed-form CDFs."""
    v = np.random.default_rng(7).uniform(size=1)[0]
    F1 = math.exp(-1.5) * (1 + 1.5)
    F2 = F1 + math.exp(-1.5) * 1.5**2 / 2
    r = randomized_quantile_residuals("poisson", np.array([2.0]), np.array([1.5]), seed=7)
    assert r[0] == pytest.approx(stats.norm.ppf(F1 + v * (F2 - F1)), abs=1e-12)
    pmf = [math.comb(5, j) * 0.4**j * 0.6 ** (5 - j) for j in range(6)]
    lo, hi = sum(pmf[:3]), sum(pmf[:4])
    r = randomized_quantile_residuals(
        "binomial", np.array([0.6]), np.array([0.4]), np.array([5.0]), seed=7
    )
    assert r[0] == pytest.approx(stats.norm.ppf(lo + v * (hi - lo)), abs=1e-12)


def test_quantile_residuals_finite_in_the_tails_and_deterministic():
    y = np.array([1.0, 0.0, 1.0, 0.0])
    mu = np.array([1 - 1e-15, 1e-15, 1e-15, 1 - 1e-15])
    r = randomized_quantile_residuals("binomial", y, mu, seed=3)
    assert np.all(np.isfinite(r)) and r[2] > 7 and r[3] < -7
    c = randomized_quantile_residuals(
        "poisson", np.array([0.0, 200.0]), np.array([1e3, 1e-3]), seed=3
    )
    assert np.all(np.isfinite(c)) and c[0] < -20 and c[1] > 20
    a = randomized_quantile_residuals("poisson", np.arange(50.0), np.full(50, 4.0), seed=9)
    b = randomized_quantile_residuals("poisson", np.arange(50.0), np.full(50, 4.0), seed=9)
    c = randomized_quantile_residuals("poisson", np.arange(50.0), np.full(50, 4.0), seed=10)
    assert np.array_equal(a, b) and not np.allclose(a, c)


def test_bad_input_errors():
    with pytest.raises(EstimationError, match="dispersion"):
        randomized_quantile_residuals("negbin", np.ones(3), np.ones(3))
    with pytest.raises(EstimationError, match="family 'gamma'"):
        randomized_quantile_residuals("gamma", np.ones(3), np.ones(3))
    with pytest.raises(EstimationError, match="categories must be 0..2"):
        surrogate_residuals("logit", np.array([0, 3]), np.zeros(2), np.array([-1.0, 1.0]))
    with pytest.raises(EstimationError, match="thresholds must increase"):
        surrogate_residuals("logit", np.array([0, 1]), np.zeros(2), np.array([1.0, -1.0]))


# ------------------------------------------------------------------- ordinal surrogate
@pytest.mark.parametrize("link", ["logit", "probit"])
def test_surrogate_residuals_follow_the_link_and_respect_the_thresholds(link):
    rng = np.random.default_rng(21)
    _x, eta = _eta(rng)
    alpha = np.array([-1.5, -0.2, 0.9, 2.5])
    err = rng.logistic(size=N) if link == "logit" else rng.normal(size=N)
    y = np.searchsorted(alpha, eta + err)  # y = j iff alpha_{j-1} < S <= alpha_j
    r, z = surrogate_residuals(link, y, eta, alpha, seed=4)
    ext = np.concatenate([[-np.inf], alpha, [np.inf]])
    assert np.all(r > ext[y] - eta) and np.all(r <= ext[y + 1] - eta)
    ref = "logistic" if link == "logit" else "norm"
    assert stats.kstest(r, ref).pvalue > 0.01
    assert stats.kstest(z, "norm").pvalue > 0.01
    r2, _ = surrogate_residuals(link, y, eta, alpha, seed=4)
    assert np.array_equal(r, r2)
    # scaled the wrong way (probit data read as logit): the latent scale is off by ~1.7
    if link == "probit":
        r_wrong, _ = surrogate_residuals("logit", y, eta, alpha, seed=4)
        assert stats.kstest(r_wrong, "logistic").pvalue < 1e-6


def test_trend_test_sees_an_omitted_quadratic_the_marginal_ks_does_not_need_to():
    rng = np.random.default_rng(22)
    x, eta = _eta(rng, quad=0.7)
    alpha = np.array([-1.0, 0.5, 2.0])
    y = np.searchsorted(alpha, eta + rng.logistic(size=N))
    eta_lin = -0.3 + 0.8 * x + 0.7  # the linear part only
    r, _ = surrogate_residuals("logit", y, eta_lin, alpha, seed=1)
    assert trend_tests(r, {"x": x})[0]["p"] < 1e-10
    r_ok, _ = surrogate_residuals("logit", y, eta, alpha, seed=1)
    assert trend_tests(r_ok, {"x": x})[0]["p"] > 0.01


# ------------------------------------------------------------------ fitted with our engine
@pytest.fixture(scope="module")
def sim():
    rng = np.random.default_rng(31)
    J, m = 150, 20
    g = np.repeat(np.arange(J), m)
    x = rng.normal(size=J * m)
    b = rng.normal(0, 0.6, J)[g]
    eta = 0.2 + 0.5 * x + 0.5 * x**2 - 0.5 + b
    alpha = np.array([-1.0, 0.5, 2.0])
    return pd.DataFrame(
        {
            "g": g,
            "x": x,
            "x2": x**2,
            "yb": rng.binomial(1, special.expit(eta)),
            "yc": rng.poisson(np.exp(eta)),
            "yo": np.searchsorted(alpha, eta + rng.logistic(size=J * m)),
        }
    )


_FITS: dict = {}


def _fit(formula, data, family):
    """Fit once per module (ordinal fits take ~10 s on a loaded machine)."""
    if (formula, family) not in _FITS:
        res = mlmpipe.fit(formula, data, family=family)
        table = pd.DataFrame(
            {
                "row": res.rows,
                "fitted": res.fitted(),
                "residual": res.residuals(),
                **response_columns(res),
            }
        )
        _FITS[formula, family] = (record_from_result(res), table)
    return _FITS[formula, family]


@pytest.mark.parametrize(
    "family,y,ref",
    [
        ("binomial", "yb", "norm"),
        ("poisson", "yc", "norm"),
        pytest.param("ordinal", "yo", "logistic", marks=pytest.mark.slow),  # ~60 s under load
    ],
)
def test_fitted_models_right_and_wrong(sim, family, y, ref):
    fit, table = _fit(f"{y} ~ x + x2 + (1 | g)", sim, family)
    d = glmm_residual_diagnostics(fit, table, sim, "g", seed=8)
    assert d["residual_test"]["p"] > 0.01 and min(t["p"] for t in d["trend_tests"]) > 0.001
    assert stats.kstest(d["residual_table"]["residual"], ref).pvalue > 0.01
    assert len(d["level1_outliers"]) <= 3 * d["outliers_expected"] + 3
    assert d["modes_normality"][0]["group"] == "g" and 0 <= d["modes_normality"][0]["p"] <= 1
    assert "Kolmogorov-Smirnov" in residual_summary_line(d) and "Caveat" in residual_summary_line(d)
    again = glmm_residual_diagnostics(fit, table, sim, "g", seed=8)
    assert again["residual_table"]["residual"] == d["residual_table"]["residual"]
    wrong, wtable = _fit(f"{y} ~ x + (1 | g)", sim, family)  # omitted quadratic
    dw = glmm_residual_diagnostics(wrong, wtable, sim, "g", seed=8)
    assert next(t for t in dw["trend_tests"] if t["variable"] == "x")["p"] < 1e-6
    if family == "poisson":  # counts: the marginal distribution moves too
        assert dw["residual_test"]["p"] < 1e-6


def test_ordinal_fit_residuals_inside_threshold_intervals(sim):
    fit, table = _fit("yo ~ x + x2 + (1 | g)", sim[sim["g"] < 40], "ordinal")
    res = glmm_residuals(fit, table, seed=2)
    alpha = np.array([t.estimate for t in fit.thresholds])
    ext = np.concatenate([[-np.inf], alpha, [np.inf]])
    y = table["y"].to_numpy().astype(int)
    r, eta = res["residual"].to_numpy(), res["eta"].to_numpy()
    assert np.all(r > ext[y] - eta) and np.all(r <= ext[y + 1] - eta)


def test_dispatch_and_missing_columns(sim):
    fit, table = _fit("yb ~ x + (1 | g)", sim, "binomial")
    d = residual_diagnostics(fit, table, sim, "g", seed=1)
    assert d["reference"] == "normal" and d["residual"].startswith("randomized quantile")
    assert set(d["residual_table"]) >= {"row", "eta", "residual", "z", "x"}
    with pytest.raises(EstimationError, match=r"lacks columns \['eta', 'y', 'weight'\]"):
        glmm_residuals(fit, table[["row", "fitted", "residual"]], seed=1)


def test_trials_and_negbin_fits_pass_their_weights_and_dispersion():
    rng = np.random.default_rng(41)
    J, m = 40, 10
    g = np.repeat(np.arange(J), m)
    x = rng.normal(size=J * m)
    eta = -0.2 + 0.6 * x + rng.normal(0, 0.5, J)[g]
    n = rng.integers(1, 9, J * m)
    s = rng.binomial(n, special.expit(eta))
    k = 2.0
    data = pd.DataFrame(
        {"g": g, "x": x, "s": s, "f": n - s, "c": rng.negative_binomial(k, k / (k + np.exp(eta)))}
    )
    fit, table = _fit("cbind(s, f) ~ x + (1 | g)", data, "binomial")
    assert np.array_equal(table["weight"], n) and np.allclose(table["y"], s / n)
    want = randomized_quantile_residuals("binomial", s / n, table["fitted"], n, seed=6)
    assert np.array_equal(glmm_residuals(fit, table, seed=6)["residual"], want)
    fit, table = _fit("c ~ x + (1 | g)", data, "negbin")
    want = randomized_quantile_residuals(
        "negbin", data["c"], table["fitted"], k=fit.family.dispersion, seed=6
    )
    assert fit.family.dispersion > 0
    assert np.array_equal(glmm_residuals(fit, table, seed=6)["residual"], want)
