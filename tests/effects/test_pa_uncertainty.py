"""Population-averaged prediction intervals with the uncertainty of the variance components
(``effects/predictions.py``: delta method over (theta, beta) jointly).

R fixture: ``tests/fixtures/glmm/pa_uncertainty.json`` by ``make_pa_uncertainty_fixtures.R``:
glmmTMB fits (Laplace) of mlmRev Contraception ``use ~ urban + age + (1 | district)`` and
``(urban | district)``, and Mmmec (Poisson with offset); the population-averaged mean by
``integrate()`` and the SE of its link by ``numDeriv::grad`` over (beta, log SD [, correlation
parameter]) with ``vcov(m, full = TRUE)``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlmpipe.effects.prediction_grid import predict_at, prediction_model
from mlmpipe.effects.predictions import (
    PredictionModel,
    category_probabilities,
    mean_response,
    random_sd_jacobian,
)
from mlmpipe.engine.numderiv import jacobian

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "glmm" / "pa_uncertainty.json"
FIX = json.loads(FIXTURE.read_text())
CASES = {c["id"]: c for c in FIX["cases"]}


def _sigma_tmb(th: np.ndarray) -> np.ndarray:
    """glmmTMB's unstructured covariance from (log SD..., correlation parameter)."""
    if len(th) == 1:
        return np.array([[np.exp(2 * th[0])]])
    sd = np.exp(th[:2])
    r = th[2] / np.sqrt(1 + th[2] ** 2)
    return np.diag(sd) @ np.array([[1, r], [r, 1]]) @ np.diag(sd)


def _our_theta(th: np.ndarray) -> np.ndarray:
    """Our theta (lower Cholesky factor of Sigma, column by column) from glmmTMB's parameters."""
    L = np.linalg.cholesky(_sigma_tmb(th))
    rows, cols = np.tril_indices(L.shape[0])
    order = np.lexsort((rows, cols))
    return L[rows[order], cols[order]]


def _design(case: dict):
    g = pd.DataFrame(case["grid"])
    if case["family"] == "poisson":
        X = np.column_stack([np.ones(len(g)), g["uvb"]])
        return X, np.ones((len(g), 1)), np.log(g["expected"].to_numpy(float))
    urban = (g["urban"] == "Y").to_numpy(float)
    X = np.column_stack([np.ones(len(g)), urban, g["age"].astype(float)])
    q = np.size(case["theta_logsd"])
    Z = np.ones((len(g), 1)) if q == 1 else np.column_stack([np.ones(len(g)), urban])
    return X, Z, np.zeros(len(g))


@pytest.mark.parametrize("case_id", list(CASES))
def test_delta_method_matches_numderiv_at_r_estimates(case_id):
    """R's estimates and full vcov plugged in (its variance parameters mapped to our theta by the
    Jacobian): our analytic gradient gives R's numerical-gradient SE of g(mu_PA)."""
    case = CASES[case_id]
    X, Z, off = _design(case)
    th_r = np.atleast_1d(np.asarray(case["theta_logsd"], float))
    p, nt = len(case["beta"]), len(th_r)
    S = _sigma_tmb(th_r)
    theta = _our_theta(th_r)
    rows, cols = np.tril_indices(S.shape[0])
    order = np.lexsort((rows, cols))
    cells = (rows[order], cols[order])
    T = np.zeros_like(S)
    T[cells] = theta
    J = np.eye(p + nt)
    J[p:, p:] = jacobian(_our_theta, th_r)
    V = J @ np.atleast_2d(case["vcov_full"]) @ J.T  # order (beta, theta) -> ours (theta, beta)
    perm = np.r_[np.arange(p, p + nt), np.arange(p)]
    V = V[np.ix_(perm, perm)]
    link = "log" if case["family"] == "poisson" else "logit"
    beta = np.asarray(case["beta"])
    pm = PredictionModel(
        case["family"],
        link,
        beta,
        V[nt:, nt:],
        (S,),
        factors=(T,),
        theta_cells=(cells,),
        vcov_full=V,
    )
    s = np.sqrt(np.einsum("ia,ab,ib->i", Z, S, Z))
    r = mean_response(pm, X, s, offset=off, ds_dtheta=random_sd_jacobian([Z], pm))
    np.testing.assert_allclose(r["fit"], case["pa"], rtol=1e-9)
    np.testing.assert_allclose(r["link_se"], case["se_zeta"], rtol=1e-6)
    known = mean_response(pm, X, s, offset=off)  # theta treated as known: beta only
    np.testing.assert_allclose(known["link_se"], case["se_zeta_beta_only"], rtol=1e-6)


@pytest.fixture(scope="module")
def our_fits():
    import mlmpipe
    from tests.reference.datasets import load_raw, to_r_factors

    levels = json.loads((FIXTURE.parent / "glmm_fits.json").read_text())["factor_levels"]
    out = {}
    for cid, case in CASES.items():
        name = "mlmRev::Mmmec" if case["family"] == "poisson" else "mlmRev::Contraception"
        data = to_r_factors(load_raw(name), levels[name])
        out[cid] = (mlmpipe.fit(case["call"], data, family=case["family"]), data)
    return out


@pytest.mark.reference
@pytest.mark.parametrize("case_id", list(CASES))
def test_population_averaged_se_from_our_fit_matches_glmmtmb(our_fits, case_id):
    """From our own fit and Hessian: the SE of g(mu_PA) with theta's uncertainty within 1e-3 of
    glmmTMB + numDeriv, and it differs from the beta-only SE (so theta is really propagated)."""
    res, data = our_fits[case_id]
    case = CASES[case_id]
    grid = pd.DataFrame(case["grid"])
    if "urban" in grid:
        grid["urban"] = pd.Categorical(grid["urban"], categories=data["urban"].cat.categories)
        grid["age"] = grid["age"].astype(float)
    assert prediction_model(res).vcov_full is not None
    t = predict_at(res, grid, data=data)
    pa = t[t["kind"] == "population-averaged"]
    np.testing.assert_allclose(pa["fit"], case["pa"], rtol=1e-4)
    np.testing.assert_allclose(pa["link_fit"], case["zeta"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(pa["link_se"], case["se_zeta"], rtol=1e-3)
    diff = np.abs(np.asarray(case["se_zeta"]) / np.asarray(case["se_zeta_beta_only"]) - 1)
    assert diff.max() > 5e-3  # the fixture can tell the two apart
    lo, hi = pa["low"].to_numpy(), pa["high"].to_numpy()
    assert np.all((lo < pa["fit"]) & (pa["fit"] < hi))


def _numeric_se(pm: PredictionModel, X, Z, V, ordinal: bool):
    """SE of the link-scale prediction by a Richardson Jacobian of the whole map
    (theta, beta[, thresholds]) -> g(mu_PA), rebuilding Sigma = T T' from theta."""
    (T0,), ((rows, cols),) = pm.factors, pm.theta_cells
    nt, p = len(rows), len(pm.beta)

    def f(par):
        T = np.zeros_like(T0)
        T[rows, cols] = par[:nt]
        S = T @ T.T
        s = np.sqrt(np.einsum("ia,ab,ib->i", Z, S, Z))
        q = PredictionModel(pm.family, pm.link, par[nt : nt + p], pm.vcov, (S,))
        if ordinal:
            q = PredictionModel(pm.family, pm.link, par[nt : nt + p], pm.vcov, (S,), par[nt + p :])
            prob = category_probabilities(q, X, s)["fit"].ravel()
            return np.log(prob) - np.log1p(-prob)
        return mean_response(q, X, s)["link_fit"]

    par = np.concatenate([T0[rows, cols], pm.beta, [] if not ordinal else pm.thresholds])
    G = jacobian(f, par)
    return np.sqrt(np.einsum("ia,ab,ib->i", G, V, G))


@pytest.mark.parametrize("family", ["binomial", "poisson", "ordinal"])
def test_analytic_gradient_matches_numerical_for_a_vector_term(family):
    """Correlated intercept + slope term: the analytic ds/dtheta and the population-average
    gradients agree with a numerical Jacobian of the full map (ordinal: logit of every category)."""
    rng = np.random.default_rng(4)
    X = np.column_stack([np.ones(5), rng.normal(size=5)])
    Z = X.copy()
    T = np.array([[0.8, 0.0], [-0.3, 0.5]])
    rows, cols = np.array([0, 1, 1]), np.array([0, 0, 1])
    beta = np.array([-0.4, 0.7])
    ordinal = family == "ordinal"
    if ordinal:
        X, beta = X[:, 1:], beta[1:]
    k = 3 + len(beta) + (3 if ordinal else 0)
    A = rng.normal(size=(k, k))
    V = (A @ A.T) / k * 0.05 + np.eye(k) * 0.01
    link = {"binomial": "logit", "poisson": "log", "ordinal": "logit"}[family]
    pm = PredictionModel(
        family,
        link,
        beta,
        V[3 : 3 + len(beta), 3 : 3 + len(beta)],
        (T @ T.T,),
        np.array([-1.0, 0.2, 1.5]) if ordinal else None,
        V[3:, 3:] if ordinal else None,
        (0, 1, 2, 3) if ordinal else (),
        (T,),
        ((rows, cols),),
        V,
    )
    s = np.sqrt(np.einsum("ia,ab,ib->i", Z, T @ T.T, Z))
    ds = random_sd_jacobian([Z], pm)
    if ordinal:
        got = category_probabilities(pm, X, s, ds_dtheta=ds)["link_se"].ravel()
    else:
        got = mean_response(pm, X, s, ds_dtheta=ds)["link_se"]
    np.testing.assert_allclose(got, _numeric_se(pm, X, Z, V, ordinal), rtol=1e-6)


def test_variance_components_treated_as_known_without_a_usable_hessian():
    """nAGQ = 0 has no Hessian in (theta, beta); a variance on its boundary or a covariance that is
    not positive definite is not used either: the intervals fall back to beta only, and the
    report's method text says so."""
    import mlmpipe
    from mlmpipe.effects.glmm_predictions import method_text
    from mlmpipe.effects.prediction_grid import _usable
    from tests.effects.test_glmm_predictions import _data

    d = _data()
    res = mlmpipe.fit("y ~ x + w + (1 | g)", d, family="binomial", nagq=0)
    assert prediction_model(res).vcov_full is None
    assert "treated as known (nAGQ = 0 has no Hessian)" in method_text([res], 0.05)
    grid = pd.DataFrame({"x": [0.0], "w": pd.Categorical(["A"], categories=["A", "B"])})
    pa = predict_at(res, grid, data=d).query("kind == 'population-averaged'")
    assert np.isfinite(pa["link_se"]).all() and (pa["link_se"] > 0).all()
    V = np.eye(2)
    assert _usable(V, np.array([0.5]), np.array([0.0]))
    assert not _usable(V, np.array([0.0]), np.array([0.0]))  # singular fit
    assert not _usable(np.diag([1.0, -1e-3]), np.array([0.5]), np.array([0.0]))


def test_random_sd_jacobian_two_grouping_factors():
    """Two terms (a 2 x 2 term and a scalar one): ds/dtheta in theta's order, term by term, agrees
    with a Richardson Jacobian of s(theta)."""
    from mlmpipe.effects.predictions import random_sd

    rng = np.random.default_rng(9)
    Z1, Z2 = np.column_stack([np.ones(4), rng.normal(size=4)]), np.ones((4, 1))
    cells = ((np.array([0, 1, 1]), np.array([0, 0, 1])), (np.array([0]), np.array([0])))

    def parts(theta):
        T1, T2 = np.zeros((2, 2)), np.zeros((1, 1))
        T1[cells[0]], T2[cells[1]] = theta[:3], theta[3:]
        return (T1, T2), (T1 @ T1.T, T2 @ T2.T)

    theta = np.array([0.9, 0.4, 0.3, 0.6])
    (T1, T2), sig = parts(theta)
    pm = PredictionModel(
        "binomial", "logit", np.zeros(1), np.eye(1), sig, None, None, (), (T1, T2), cells
    )
    num = jacobian(lambda th: random_sd([Z1, Z2], parts(th)[1]), theta)
    np.testing.assert_allclose(random_sd_jacobian([Z1, Z2], pm), num, rtol=1e-8)
