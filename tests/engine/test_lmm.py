"""The profiled deviance, estimates, conditional modes and input checks of the engine."""

from __future__ import annotations

import numpy as np
import pytest

from mlmpipe.engine.fit import fit_design
from mlmpipe.engine.lmm import LinearMixedModel, drop_rank_deficient
from mlmpipe.errors import EstimationError, RankDeficiencyWarning, SingularFitWarning
from mlmpipe.formula.terms import Design, ReTerm
from tests.engine.conftest import make_design
from tests.engine.dense import dense_condvar_blocks, dense_loglik, dense_Z_Lambda


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("nested", [True, False])
def test_objective_equals_marginal_likelihood(rng, reml, nested):
    d = make_design(rng, n=160, groups=((20, 2), (6, 1)), nested=nested)
    model = LinearMixedModel(d, reml=reml)
    theta = np.array([0.9, -0.3, 0.4, 0.7])
    assert model.objective(theta) == pytest.approx(dense_loglik(model, theta, reml), rel=1e-10)


@pytest.mark.parametrize(
    "groups,nested",
    [(((15, 2), (5, 1)), False), (((30, 2), (6, 2)), True), (((12, 1), (7, 2), (3, 1)), False)],
)
def test_estimates_and_modes_match_dense_gls(rng, groups, nested):
    d = make_design(rng, n=150, groups=groups, nested=nested)
    res = fit_design(d, reml=True, df_method="none")
    model = res.model
    Z, Lam = dense_Z_Lambda(model, res.theta)
    V = Z @ Lam @ Lam.T @ Z.T + np.eye(model.n)
    Vi = np.linalg.inv(V)
    X, y = model.X, model.y
    beta = np.linalg.solve(X.T @ Vi @ X, X.T @ Vi @ y)
    np.testing.assert_allclose(res.beta, beta, rtol=1e-8)
    np.testing.assert_allclose(res.vcov, res.sigma**2 * np.linalg.inv(X.T @ Vi @ X), rtol=1e-8)
    # BLUP: b = Lam Lam' Z' V^{-1} (y - X beta), in internal order
    b = Lam @ Lam.T @ Z.T @ Vi @ (y - X @ beta)
    arr = res.ranef_arrays()
    k = 0
    for i in model.order:
        r = model.reterms[i]
        np.testing.assert_allclose(arr[r.name].ravel(), b[k : k + r.nranef], rtol=1e-7, atol=1e-9)
        k += r.nranef
    np.testing.assert_allclose(res.fitted(), X @ beta + Z @ b, rtol=1e-8)
    # conditional variances: sigma^2 Lam (Lam'Z'Z Lam + I)^{-1} Lam'
    cv = res.condvar()
    for name, blocks in dense_condvar_blocks(model, res).items():
        np.testing.assert_allclose(cv[name], blocks, rtol=1e-7, atol=1e-12)


def test_ml_sigma_and_criterion_relation(rng):
    d = make_design(rng, n=100, groups=((10, 1),))
    res = fit_design(d, reml=False, df_method="none")
    assert res.sigma**2 == pytest.approx(res.factor.pwrss / res.nobs)
    assert res.aic == pytest.approx(-2 * res.loglik + 2 * res.npar)
    assert res.npar == 2 + 1 + 1


def test_rank_deficient_columns_dropped_with_warning(rng):
    d = make_design(rng, n=80, groups=((8, 1),), p=3)
    X = np.column_stack([d.X, 2 * d.X[:, 1] - d.X[:, 2]])
    bad = Design(d.y, X, d.fixed_names + ("dup",), d.re_terms, None, d.rows, "f", "y")
    with pytest.warns(RankDeficiencyWarning, match="dup"):
        res = fit_design(bad, df_method="none")
    assert res.model.fixed_names == d.fixed_names
    assert "dup" in res.to_dict()["dropped_columns"]


def test_drop_rank_deficient_keeps_first_of_collinear_pair():
    x = np.arange(10.0)
    keep, dropped = drop_rank_deficient(np.column_stack([np.ones(10), x, 3 * x]), ("a", "b", "c"))
    assert keep == [0, 1] and dropped == ["c"]


def test_single_level_group_is_an_error(rng):
    d = make_design(rng, n=30, groups=((3, 1),))
    t = d.re_terms[0]
    one = ReTerm("class", np.zeros(30, int), ("1",), t.names, t.Z)
    bad = Design(d.y, d.X, d.fixed_names, (one,), None, d.rows, "f", "y")
    with pytest.raises(EstimationError, match="'class' has a single level"):
        LinearMixedModel(bad)


def test_more_random_effects_than_observations_is_an_error(rng):
    d = make_design(rng, n=30, groups=((15, 2),))
    with pytest.raises(EstimationError, match=r"number of random effects \(30\)"):
        LinearMixedModel(d)


def test_singular_fit_flagged(rng):
    n, m = 200, 20
    codes = np.arange(n) % m
    X = np.ones((n, 1))
    e = rng.normal(size=n)
    # identical group means: the between-group variance estimate is exactly on the boundary 0
    y = e - np.bincount(codes, e)[codes] / (n / m)
    t = ReTerm("g", codes, tuple(map(str, range(m))), ("(Intercept)",), np.ones((n, 1)))
    d = Design(y, X, ("(Intercept)",), (t,), None, np.arange(n), "y ~ 1 + (1|g)", "y")
    with pytest.warns(SingularFitWarning):
        res = fit_design(d)
    assert res.theta[0] < 1e-4
    assert res.singular and res.to_dict()["singular"]
    assert any("singular" in s for s in res.to_dict()["warnings"])
