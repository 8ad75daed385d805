"""GLMM predictions (``effects/predictions.py``, ``effects/prediction_grid.py``).

R fixture: ``tests/fixtures/glmm/prediction_fits.json`` by ``make_prediction_fixtures.R`` (lme4
``predict(re.form = NA / NULL)``, and population averages computed with ``integrate()``; a nested
two-dimensional integral for the correlated intercept/slope model): mlmRev Contraception (binomial,
random intercept; correlated random intercept and urban slope) and Mmmec (Poisson with offset). With R's estimates plugged in,
our formulas must match to rounding; from our own fit, to the fit's parity tolerance (1e-3).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special, stats

from mlmpipe.effects.prediction_grid import build_grid, predict_at
from mlmpipe.effects.predictions import (
    PredictionModel,
    category_probabilities,
    mean_response,
    random_sd,
)
from mlmpipe.errors import PlanError

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "glmm" / "prediction_fits.json"
FIX = json.loads(FIXTURE.read_text())
CASES = {c["id"]: c for c in FIX["cases"]}


def _grid(case: dict) -> pd.DataFrame:
    return pd.DataFrame(case["grid"]).assign(age=lambda d: d["age"].astype(float))


def _r_matrices(case: dict):
    g = _grid(case)
    urban = (g["urban"] == "Y").to_numpy(float)
    X = np.column_stack(
        [
            np.ones(len(g)),
            urban,
            g["age"],
            0 * urban,
            0 * urban,
            (g["livch"] == "3+").to_numpy(float),
        ]
    )
    S = np.atleast_2d(np.asarray(case["Sigma"], float))
    Z = np.ones((len(g), 1)) if S.shape[0] == 1 else np.column_stack([np.ones(len(g)), urban])
    pm = PredictionModel(
        "binomial", "logit", np.asarray(case["beta"]), np.asarray(case["vcov"]), (S,)
    )
    return pm, X, Z


@pytest.mark.parametrize("case_id", ["contraception_ri", "contraception_urban_slope"])
def test_formulas_match_r_at_r_estimates(case_id):
    case = CASES[case_id]
    pm, X, Z = _r_matrices(case)
    cond = mean_response(pm, X)
    np.testing.assert_allclose(cond["eta"], case["link"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cond["se_eta"], case["se_link"], rtol=1e-10)
    np.testing.assert_allclose(cond["fit"], case["response"], rtol=1e-10)
    pa = mean_response(pm, X, s=random_sd([Z], pm.sigmas))
    np.testing.assert_allclose(pa["fit"], case["population_averaged"], rtol=1e-9)
    # averaging over b pulls probabilities towards 1/2 (logit is convex below 0, concave above)
    below = cond["fit"] < 0.5
    assert np.all(pa["fit"][below] > cond["fit"][below])
    assert np.all((pa["low"] < pa["fit"]) & (pa["fit"] < pa["high"]))


def test_poisson_offset_counts_match_r_at_r_estimates():
    case = CASES["mmmec_poisson_offset"]
    g = pd.DataFrame(case["grid"])
    X = np.column_stack([np.ones(len(g)), g["uvb"]])
    S = np.atleast_2d(np.asarray(case["Sigma"], float))
    pm = PredictionModel("poisson", "log", np.asarray(case["beta"]), np.asarray(case["vcov"]), (S,))
    off = np.log(g["expected"].to_numpy(float))
    cond = mean_response(pm, X, offset=off)
    np.testing.assert_allclose(cond["eta"], case["link"], rtol=1e-10)
    np.testing.assert_allclose(cond["se_eta"], case["se_link"], rtol=1e-10)
    np.testing.assert_allclose(cond["fit"], case["response"], rtol=1e-10)
    pa = mean_response(pm, X, s=np.sqrt(S[0, 0]), offset=off)
    np.testing.assert_allclose(pa["fit"], case["population_averaged"], rtol=1e-9)


@pytest.mark.parametrize("s", [0.3, 1.0, 3.0])
def test_population_average_closed_forms(s):
    X = np.column_stack([np.ones(5), np.linspace(-2, 2, 5)])
    beta, V = np.array([-0.4, 0.8]), np.diag([0.04, 0.01])
    probit = mean_response(PredictionModel("binomial", "probit", beta, V), X, s=s)
    np.testing.assert_allclose(
        probit["fit"], stats.norm.cdf(X @ beta / np.sqrt(1 + s * s)), rtol=1e-9
    )
    pois = mean_response(PredictionModel("poisson", "log", beta, V), X, s=s)
    np.testing.assert_allclose(pois["fit"], np.exp(X @ beta + s * s / 2), rtol=1e-9)
    # log link: E[exp(eta)] = exp(x'b + s^2/2), so the interval is the conditional one shifted
    cond = mean_response(PredictionModel("poisson", "log", beta, V), X)
    np.testing.assert_allclose(pois["low"] / cond["low"], np.exp(s * s / 2), rtol=1e-8)


def test_population_average_interval_by_finite_differences():
    """se of g(mu_PA) equals the delta method computed with numerical derivatives in beta."""
    X = np.array([[1.0, 0.5], [1.0, -1.5]])
    beta, V = np.array([0.3, -0.7]), np.array([[0.05, 0.01], [0.01, 0.02]])
    pm = PredictionModel("binomial", "logit", beta, V)
    r = mean_response(pm, X, s=1.3)
    h = 1e-6
    grads = []
    for j in range(2):
        e = np.zeros(2)
        e[j] = h
        up = mean_response(PredictionModel("binomial", "logit", beta + e, V), X, s=1.3)["fit"]
        dn = mean_response(PredictionModel("binomial", "logit", beta - e, V), X, s=1.3)["fit"]
        grads.append((special.logit(up) - special.logit(dn)) / (2 * h))
    G = np.column_stack(grads)
    se = np.sqrt(np.einsum("ij,jk,ik->i", G, V, G))
    q = stats.norm.ppf(0.975)
    zeta = special.logit(r["fit"])
    np.testing.assert_allclose(r["high"], special.expit(zeta + q * se), rtol=1e-6)


def test_ordinal_category_probabilities():
    a = np.array([-1.0, 0.5, 2.0])
    beta = np.array([0.8])
    X = np.array([[-1.0], [0.0], [1.5]])
    joint = np.diag([0.02, 0.03, 0.03, 0.04])
    pm = PredictionModel("ordinal", "logit", beta, joint[:1, :1], (), a, joint, (1, 2, 3, 4))
    cond = category_probabilities(pm, X)
    eta = X @ beta
    F = special.expit(a[None, :] - eta[:, None])
    direct = np.diff(np.hstack([np.zeros((3, 1)), F, np.ones((3, 1))]), axis=1)
    np.testing.assert_allclose(cond["fit"], direct, rtol=1e-12)
    s = 1.2
    pa = category_probabilities(pm, X, s=s)
    np.testing.assert_allclose(pa["fit"].sum(axis=1), 1.0, rtol=1e-12)
    for i in range(3):
        cum = [
            integrate.quad(
                lambda t, ak=ak, e=eta[i]: special.expit(ak - e - s * t) * stats.norm.pdf(t),
                -12,
                12,
            )[0]
            for ak in a
        ]
        np.testing.assert_allclose(pa["fit"][i], np.diff([0.0, *cum, 1.0]), rtol=1e-8)
    assert np.all((pa["low"] <= pa["fit"]) & (pa["fit"] <= pa["high"]))
    assert np.all(pa["high"] - pa["low"] > 0)


@pytest.fixture(scope="module")
def contraception_fit():
    import mlmpipe
    from tests.reference.datasets import load_raw, to_r_factors

    fix = json.loads((FIXTURE.parent / "glmm_fits.json").read_text())
    lv = fix["factor_levels"]["mlmRev::Contraception"]
    data = to_r_factors(load_raw("mlmRev::Contraception"), lv)
    return mlmpipe.fit(CASES["contraception_ri"]["call"], data, family="binomial"), data


@pytest.mark.reference
def test_predictions_from_our_fit_match_lme4(contraception_fit):
    res, data = contraception_fit
    case = CASES["contraception_ri"]
    grid = _grid(case)
    for c in ("urban", "livch"):
        grid[c] = pd.Categorical(grid[c], categories=data[c].cat.categories)
    districts = [c["district"] for c in case["cluster_specific"]]
    t = predict_at(res, grid, clusters={"district": districts}, data=data)
    cond = t[t["kind"] == "conditional"]
    np.testing.assert_allclose(cond["fit"], case["response"], rtol=1e-3)
    np.testing.assert_allclose(cond["se_eta"], case["se_link"], rtol=2e-3)
    pa = t[t["kind"] == "population-averaged"]
    np.testing.assert_allclose(pa["fit"], case["population_averaged"], rtol=1e-3)
    for c in case["cluster_specific"]:
        got = t[t["cluster"] == f"district={c['district']}"]["fit"]
        np.testing.assert_allclose(got, c["response"], rtol=1e-3)


@pytest.mark.reference
def test_poisson_offset_predictions_from_our_fit_match_lme4():
    import mlmpipe
    from tests.reference.datasets import load_raw, to_r_factors

    fix = json.loads((FIXTURE.parent / "glmm_fits.json").read_text())
    data = to_r_factors(load_raw("mlmRev::Mmmec"), fix["factor_levels"]["mlmRev::Mmmec"])
    case = CASES["mmmec_poisson_offset"]
    res = mlmpipe.fit(case["call"], data, family="poisson")
    grid = pd.DataFrame(case["grid"]).astype(float)
    regions = [c["region"] for c in case["cluster_specific"]]
    t = predict_at(res, grid, clusters={"region": regions}, data=data)
    np.testing.assert_allclose(t[t["kind"] == "conditional"]["fit"], case["response"], rtol=1e-3)
    pa = t[t["kind"] == "population-averaged"]["fit"]
    np.testing.assert_allclose(pa, case["population_averaged"], rtol=1e-3)
    for c in case["cluster_specific"]:
        got = t[t["cluster"] == f"region={c['region']}"]["fit"]
        np.testing.assert_allclose(got, c["response"], rtol=1e-3)


def test_grid_default_and_planned_values():
    rng = np.random.default_rng(1)
    codes = np.repeat(np.arange(20), 10)
    d = pd.DataFrame(
        {
            "x": rng.normal(size=200),
            "w": np.repeat(rng.normal(size=20), 10),
            "sex": pd.Categorical(rng.choice(["F", "M"], 200), categories=["F", "M"]),
            "d": rng.integers(0, 2, 200),
        }
    )
    g, note = build_grid(d, ["x", "w", "sex", "d"], codes=codes)
    assert len(g) == 3 * 3 * 2 * 2 and note is None
    w_cl = d["w"].to_numpy()[::10]
    assert sorted(g["w"].unique()) == pytest.approx(
        [w_cl.mean() - w_cl.std(ddof=1), w_cl.mean(), w_cl.mean() + w_cl.std(ddof=1)]
    )
    assert list(g["sex"].cat.categories) == ["F", "M"] and set(g["d"]) == {0, 1}
    g2, _ = build_grid(d, ["x", "w", "sex", "d"], at={"x": [-1, 1], "sex": ["M"]}, codes=codes)
    assert len(g2) == 2 and set(g2["sex"]) == {"M"} and set(g2["d"]) == {0}
    assert g2["w"].iloc[0] == pytest.approx(w_cl.mean())
    with pytest.raises(PlanError, match=r"report.predictions.at: ses not a variable"):
        build_grid(d, ["x", "w", "sex", "d"], at={"ses": [0]})
    with pytest.raises(PlanError, match=r"report.predictions.at.sex: unknown level"):
        build_grid(d, ["x", "w", "sex", "d"], at={"sex": ["X"]})
