"""The fast PIRLS pieces against the family's own formulas and a dense solve: the logit-binomial
deviance and working quantities from exp(-|eta|) (with R's mu clamps), the per-level solve of a
scalar term, and PIRLS's early stop (predicted by the quadratic rate) against a tighter run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlmpipe.engine.family import make_family
from mlmpipe.engine.glmm import GeneralizedLinearMixedModel
from mlmpipe.engine.pirls_eval import ResponseEval
from mlmpipe.formula import build_design


def _eta(rng: np.random.Generator, extreme: bool) -> np.ndarray:
    eta = rng.normal(scale=3.0, size=400)
    if extreme:  # beyond the mu clamps at |eta| ~ 36 and exp overflow at 709
        eta[:6] = [36.5, -36.5, 40.0, -40.0, 750.0, -750.0]
    return eta


@pytest.mark.parametrize("extreme", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_logit_fast_path_matches_family(extreme: bool, weighted: bool) -> None:
    rng = np.random.default_rng(7)
    fam = make_family("binomial", "logit")
    eta = _eta(rng, extreme)
    if weighted:  # proportions out of n trials
        wt = rng.integers(1, 9, eta.size).astype(float)
        y = rng.binomial(wt.astype(int), 0.4) / wt
    else:
        wt = np.ones(eta.size)
        y = rng.binomial(1, 0.4, eta.size).astype(float)
    ev = ResponseEval(fam, y, wt)
    assert ev.logit
    dev, cache = ev.deviance(eta)
    assert dev == pytest.approx(float(np.sum(fam.unit_deviance(y, eta, wt))), rel=1e-13)
    _, w_ref, r_ref = fam.working(y, eta, wt)
    for c in (cache, None):
        w, r = ev.working(eta, c)
        np.testing.assert_allclose(w, w_ref, rtol=1e-12)
        np.testing.assert_allclose(r, r_ref, rtol=1e-12)


@pytest.mark.parametrize(("family", "link"), [("binomial", "probit"), ("poisson", "log")])
def test_other_families_use_their_own_formulas(family: str, link: str) -> None:
    rng = np.random.default_rng(3)
    fam = make_family(family, link)
    eta = rng.normal(size=50)
    y = rng.binomial(1, 0.5, 50).astype(float) if family == "binomial" else rng.poisson(2, 50) * 1.0
    wt = np.ones(50)
    ev = ResponseEval(fam, y, wt)
    assert not ev.logit
    assert ev.deviance(eta)[0] == float(np.sum(fam.unit_deviance(y, eta, wt)))
    w, r = ev.working(eta)
    np.testing.assert_array_equal(w, fam.working(y, eta, wt)[1])
    np.testing.assert_array_equal(r, fam.working(y, eta, wt)[2])


def _model(formula: str, slope: bool = False) -> GeneralizedLinearMixedModel:
    rng = np.random.default_rng(11)
    g = np.repeat(np.arange(15), 10)
    x = rng.normal(size=g.size)
    eta = -0.2 + 0.5 * x + rng.normal(scale=0.7, size=15)[g] * (x if slope else 1.0)
    df = pd.DataFrame(
        {
            "y": rng.binomial(1, 1 / (1 + np.exp(-eta))),
            "x": x,
            "g": pd.Categorical(g),
            "h": pd.Categorical(g // 3),
        }
    )
    return GeneralizedLinearMixedModel(build_design(formula, df), make_family("binomial"))


@pytest.mark.parametrize("formula", ["y ~ x + (1 | g)", "y ~ x + (0 + x | g)"])
def test_scalar_term_solve_matches_dense(formula: str) -> None:
    """(t^2 Z'WZ + I) u = t Z'W res and log|L| = log det(t^2 Z'WZ + I) / 2, densely."""
    m = _model(formula, slope="0 + x" in formula)
    r = m.lmm.reterms[0]
    rng = np.random.default_rng(5)
    w, res, t = rng.uniform(0.1, 0.3, m.n), rng.normal(size=m.n), 0.8
    f, (u,) = m.pirls._u_only(np.array([[t]]), w, res)
    Z = np.zeros((m.n, r.m))
    Z[np.arange(m.n), r.term.codes] = r.term.Z[:, 0]
    M = t * t * Z.T @ (w[:, None] * Z) + np.eye(r.m)
    np.testing.assert_allclose(u, np.linalg.solve(M, t * Z.T @ (w * res)), rtol=1e-12)
    assert f.logdet_theta == pytest.approx(0.5 * np.linalg.slogdet(M)[1], rel=1e-12)


@pytest.mark.parametrize("formula", ["y ~ x + (1 | g)", "y ~ x + (1 | g) + (1 | h)"])
def test_early_stop_matches_tight_pirls(formula: str) -> None:
    m = _model(formula)
    theta = np.full(m.ntheta, 0.7)
    beta = np.array([-0.2, 0.5])
    st = m.pirls.run(theta, beta, m.us0)
    tight = m.pirls.run(theta, beta, st.us, tol=1e-15)  # from there, to rounding
    for a, b in zip(st.us, tight.us, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-10)
    assert m.laplace_from(st) == pytest.approx(m.laplace_from(tight), abs=1e-9)


@pytest.mark.parametrize("coarse", [3, 8])  # 5 levels (sparse block) or 2 levels (dense block)
def test_nested_intercepts_reweight_by_aggregation(coarse: int) -> None:
    """Weighted cross-products of an intercept nested in a finer one, summed from the finer
    term's, equal a rebuild from the observations."""
    import dataclasses

    from mlmpipe.engine import blocks as B
    from mlmpipe.engine.lmm import LinearMixedModel

    rng = np.random.default_rng(2)
    g = np.repeat(np.arange(15), 10)
    df = pd.DataFrame(
        {
            "y": rng.normal(size=g.size),
            "x": rng.normal(size=g.size),
            "g": pd.Categorical(g),
            "h": pd.Categorical(g // coarse),
        }
    )
    design = build_design("y ~ x + (1 | g) + (1 | h)", df)
    lmm = LinearMixedModel(dataclasses.replace(design, y=design.y.astype(float)), reml=False)
    w, z = rng.uniform(0.1, 2.0, lmm.n), rng.normal(size=lmm.n)
    lmm.reweight(w, z)
    assert lmm._wcross.parent  # the nesting was found
    fast = lmm.A
    lmm._setup_crossproducts(w)
    for j in range(lmm.K + 1):
        for i in range(j + 1):
            np.testing.assert_allclose(B.to_dense(fast[j][i]), B.to_dense(lmm.A[j][i]), rtol=1e-12)
