"""GLMM engine pieces against direct computation: families, PIRLS modes, Laplace vs AGHQ vs
numerical integration, reweighted cross-products vs a rebuild, result layout."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize

import mlmpipe
from mlmpipe.engine import blocks as B
from mlmpipe.engine.family import make_family
from mlmpipe.engine.glmm import GeneralizedLinearMixedModel
from mlmpipe.engine.lmm import LinearMixedModel
from mlmpipe.formula import build_design


def simulate(family: str, n_groups: int = 12, size: int = 8, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), size)
    x = rng.normal(size=g.size)
    b = rng.normal(scale=0.8, size=n_groups)[g]
    eta = -0.3 + 0.7 * x + b
    if family == "binomial":
        y = rng.binomial(1, 1 / (1 + np.exp(-eta)))
    else:
        y = rng.poisson(np.exp(eta))
    return pd.DataFrame({"y": y, "x": x, "g": pd.Categorical(g)})


@pytest.mark.parametrize("link", ["logit", "probit", "cloglog"])
def test_binomial_link_and_deviance(link: str) -> None:
    fam = make_family("binomial", link)
    eta = np.linspace(-3, 3, 13)
    mu = fam.link.linkinv(eta)
    assert np.allclose(fam.link.linkfun(mu), eta)
    h = 1e-6
    num = (fam.link.linkinv(eta + h) - fam.link.linkinv(eta - h)) / (2 * h)
    assert np.allclose(fam.link.mu_eta(eta), num, rtol=1e-6)
    y = np.array([0.0, 0.25, 1.0, 0.5] * 3 + [0.0])
    wt = np.array([1.0, 4.0, 3.0, 2.0] * 3 + [5.0])
    sat = fam.cond_m2loglik(y, np.clip(y, 1e-300, 1 - 1e-16), wt)
    assert np.allclose(fam.cond_m2loglik(y, mu, wt) - sat, fam.dev_resid(y, mu, wt))


def test_poisson_deviance_is_loglik_difference() -> None:
    fam = make_family("poisson")
    y = np.array([0.0, 1, 3, 7])
    mu = np.array([0.5, 1.5, 2.0, 9.0])
    sat = fam.cond_m2loglik(y, np.maximum(y, 1e-300), np.ones(4))
    assert np.allclose(fam.cond_m2loglik(y, mu, np.ones(4)) - sat, fam.dev_resid(y, mu, 1))


def test_reweighted_crossproducts_match_rebuild() -> None:
    df = simulate("binomial")
    df["h"] = pd.Categorical(np.arange(len(df)) % 5)
    design = build_design("y ~ x + (x | g) + (1 | h)", df)
    lmm = LinearMixedModel(dataclasses.replace(design, y=design.y.astype(float)), reml=False)
    w = np.random.default_rng(0).uniform(0.1, 2.0, lmm.n)
    z = np.random.default_rng(1).normal(size=lmm.n)
    lmm.reweight(w, z)
    fast = lmm.A
    lmm._setup_crossproducts(w)
    for j in range(lmm.K + 1):
        for i in range(j + 1):
            assert np.allclose(B.to_dense(fast[j][i]), B.to_dense(lmm.A[j][i]))


def _model(family: str, nagq: int = 1) -> GeneralizedLinearMixedModel:
    df = simulate(family)
    return GeneralizedLinearMixedModel(
        build_design("y ~ x + (1 | g)", df), make_family(family), nagq
    )


@pytest.mark.parametrize("family", ["binomial", "poisson"])
def test_pirls_modes_minimize_penalized_deviance(family: str) -> None:
    m = _model(family)
    theta, beta = np.array([0.7]), np.array([-0.2, 0.6])
    st = m.pirls.run(theta, beta, m.us0)
    r = m.lmm.reterms[0]

    def pdev(u: np.ndarray) -> float:
        eta = m.lmm.X @ beta + theta[0] * u[r.term.codes]
        return float(np.sum(m.family.dev_resid(m.y, m.family.link.linkinv(eta), m.wt)) + u @ u)

    ref = optimize.minimize(pdev, np.zeros(r.m), method="BFGS", options={"gtol": 1e-10}).x
    assert np.allclose(st.us[0], ref, atol=1e-5)


@pytest.mark.parametrize("family", ["binomial", "poisson"])
def test_aghq_converges_to_the_integral(family: str) -> None:
    """25-node AGHQ equals the marginal deviance by adaptive numerical integration per group;
    one node is the Laplace approximation."""
    m = _model(family, nagq=25)
    par = np.array([0.8, -0.3, 0.6])
    st = m.pirls_stage2(par)
    r = m.lmm.reterms[0]
    eta0 = m.lmm.X @ par[1:]
    total = 0.0
    for j in range(r.m):
        rows = r.term.codes == j

        def dens(u: float, rows=rows) -> float:
            eta = eta0[rows] + par[0] * u
            mu = m.family.link.linkinv(eta)
            ll = -0.5 * np.sum(m.family.cond_m2loglik(m.y[rows], mu, m.wt[rows]))
            return np.exp(ll - 0.5 * u * u) / np.sqrt(2 * np.pi)

        total += -2 * np.log(integrate.quad(dens, -12, 12, epsabs=0, epsrel=1e-12)[0])
    assert m.deviance_from(par[:1], st, 25) == pytest.approx(total, rel=1e-9)
    assert m.deviance_from(par[:1], st, 1) == pytest.approx(m.laplace_from(st), rel=1e-12)


def test_fit_result_layout_matches_lmm_and_adds_glmm_keys() -> None:
    df = simulate("binomial", n_groups=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = mlmpipe.fit("y ~ x + (1 | g)", df, family="binomial")
        lm = mlmpipe.fit("y ~ x + (1 | g)", df.assign(y=df.y + 0.1 * df.x))
    dg, dl = g.to_dict(), lm.to_dict()
    assert set(dl) <= set(dg)
    assert {"family", "link", "nagq", "icc"} <= set(dg)
    row = dg["fixed"][1]
    assert row["df"] is None and row["z"] == pytest.approx(row["estimate"] / row["se"])
    assert row["exp_estimate"] == pytest.approx(np.exp(row["estimate"]))
    assert row["exp_ci_low"] < row["exp_estimate"] < row["exp_ci_high"]
    assert not any(r["group"] == "Residual" for r in dg["random"])
    var = dg["random"][0]["vcov"]
    assert dg["icc"]["g"] == pytest.approx(var / (var + np.pi**2 / 3))
    p = g.predict(df.head(3))
    assert np.allclose(p, g.fitted()[:3])
    assert np.all((g.predict(df.head(3), re=False) > 0) & (p < 1))
    assert "Family: binomial (logit)" in g.summary()
