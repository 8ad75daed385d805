"""The sparse Schur-complement deviance of partially crossed designs (engine.crossed) against the
blocked factor and against the dense matrix it factors."""

from __future__ import annotations

import numpy as np
import pytest

from mlmpipe.engine import crossed
from mlmpipe.engine.fit import fit_design
from mlmpipe.engine.lmm import LinearMixedModel
from mlmpipe.formula.terms import Design, ReTerm
from tests.engine.conftest import make_design
from tests.engine.test_blocked_cholesky import full_matrix


def star_like(
    rng: np.random.Generator, n_sch: int = 12, per_grade: int = 3, size: int = 8
) -> Design:
    """Students followed over 4 grades, a new teacher each grade (teachers nested in schools),
    a few students changing school: students x teachers x schools, as mlmRev's ``star``."""
    rows_stu, rows_tch, rows_sch, rows_gr = [], [], [], []
    n_stu = n_sch * per_grade * size
    sch_of = np.repeat(np.arange(n_sch), per_grade * size)
    for s in range(n_stu):
        sch = sch_of[s]
        for g in range(4):
            if g == 2 and rng.random() < 0.05:
                sch = rng.integers(n_sch)  # a mover
            if rng.random() < 0.2:
                continue  # a missing year
            t = (sch * 4 + g) * per_grade + rng.integers(per_grade)
            rows_stu.append(s)
            rows_tch.append(t)
            rows_sch.append(sch)
            rows_gr.append(g)
    codes = [
        np.unique(np.asarray(c), return_inverse=True)[1] for c in (rows_stu, rows_tch, rows_sch)
    ]
    n = codes[0].size
    gr = np.asarray(rows_gr)
    X = np.column_stack([np.ones(n)] + [(gr == g).astype(float) for g in (1, 2, 3)])
    terms = []
    y = X @ np.array([50.0, 3.0, 5.0, 6.0]) + rng.normal(size=n) * 4
    for name, c, sd in zip(("id", "tch", "sch"), codes, (6.0, 3.0, 2.0), strict=True):
        m = int(c.max()) + 1
        y = y + rng.normal(size=m)[c] * sd
        terms.append(ReTerm(name, c, tuple(map(str, range(m))), ("(Intercept)",), np.ones((n, 1))))
    names = ("(Intercept)", "gr1", "gr2", "gr3")
    return Design(y, X, names, tuple(terms), None, np.arange(n), "star-like", "y")


@pytest.fixture(params=["sparse", "dense"])
def small_min(monkeypatch, request):
    """Small designs take the path; S factored sparse (LDL') or dense (LAPACK)."""
    monkeypatch.setattr(crossed, "MIN_SIZE", 0)
    monkeypatch.setattr(crossed, "MAX_FILL", 1.0 if request.param == "sparse" else -1.0)
    return request.param


def test_selected_only_where_it_pays(rng, small_min):
    cs = crossed.crossed_schur(LinearMixedModel(star_like(rng)))
    assert cs is not None and cs.dense == (small_min == "dense")
    # vector-valued terms and nested designs keep the blocked factor
    assert (
        crossed.crossed_schur(LinearMixedModel(make_design(rng, groups=((12, 2), (5, 1))))) is None
    )
    nested = make_design(rng, n=300, groups=((30, 1), (6, 1)), nested=True)
    assert crossed.crossed_schur(LinearMixedModel(nested)) is None


def test_default_threshold(rng):
    small = LinearMixedModel(star_like(rng))  # 12 schools x 12 teachers: too small to pay
    assert crossed.crossed_schur(small) is None
    big = LinearMixedModel(star_like(rng, n_sch=30))  # 360 teachers + 30 schools
    cs = crossed.crossed_schur(big)
    assert cs is not None and not cs.dense  # a sparse factor


@pytest.mark.parametrize("reml", [True, False])
def test_deviance_equals_blocked_and_dense(rng, small_min, reml):
    model = LinearMixedModel(star_like(rng), reml=reml)
    for theta in ([1.0, 1.0, 1.0], [1.6, 0.9, 0.7], [0.3, 2.5, 0.0], [0.0, 0.4, 1.2]):
        theta = np.asarray(theta)
        full = model.factorize(theta)
        light = model.factorize_deviance(theta)
        assert light.L[0][0] is None  # the sparse path was taken
        assert light.logdet_theta == pytest.approx(full.logdet_theta, rel=1e-12, abs=1e-9)
        assert light.logdet_x == pytest.approx(full.logdet_x, rel=1e-12)
        assert light.pwrss == pytest.approx(full.pwrss, rel=1e-11)
        np.testing.assert_allclose(model.beta_from(light), model.beta_from(full), rtol=1e-10)
        np.testing.assert_allclose(
            model.vcov_beta(light, 2.0), model.vcov_beta(full, 2.0), rtol=1e-10
        )
        # and against the dense matrix: log|L_theta| and r^2
        M = full_matrix(model, theta)
        q = M.shape[0] - model.p - 1
        assert 2 * light.logdet_theta == pytest.approx(np.linalg.slogdet(M[:q, :q])[1], rel=1e-10)
        assert light.pwrss == pytest.approx(np.linalg.cholesky(M)[-1, -1] ** 2, rel=1e-9)


def test_fit_equals_blocked_path(rng, small_min, monkeypatch):
    design = star_like(rng)
    fast = fit_design(design, df_method="satterthwaite")
    monkeypatch.setattr(crossed, "MIN_SIZE", 10**9)
    slow = fit_design(design, df_method="satterthwaite")
    assert fast.loglik == pytest.approx(slow.loglik, abs=1e-8)
    np.testing.assert_allclose(fast.theta, slow.theta, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fast.beta, slow.beta, rtol=1e-7)
    np.testing.assert_allclose(fast.df, slow.df, rtol=1e-4)
    # the result's factor is the full blocked one either way (modes, conditional variances)
    assert fast.factor.L[0][0] is not None


def test_scalar_slope_terms(rng, small_min):
    """q = 1 terms whose column is not 1 (``(0 + x | tch)``): Z_0'Z_0 and the cross-products carry
    the covariate."""
    d = star_like(rng)
    x = rng.normal(size=d.X.shape[0])
    terms = list(d.re_terms)
    t = terms[1]
    terms[1] = ReTerm(t.group, t.codes, t.levels, ("x",), x[:, None])
    t0 = terms[0]
    terms[0] = ReTerm(t0.group, t0.codes, t0.levels, ("x",), (1 + 0.5 * x)[:, None])
    model = LinearMixedModel(Design(d.y, d.X, d.fixed_names, tuple(terms), None, d.rows, "s", "y"))
    for theta in ([1.0, 1.0, 1.0], [0.7, 1.9, 0.4]):
        theta = np.asarray(theta)
        full, light = model.factorize(theta), model.factorize_deviance(theta)
        assert light.L[0][0] is None
        assert model.deviance_from(light) == pytest.approx(model.deviance_from(full), rel=1e-12)
        np.testing.assert_allclose(model.beta_from(light), model.beta_from(full), rtol=1e-10)


def test_reweight_switches_back(rng, small_min):
    model = LinearMixedModel(star_like(rng))
    assert model.factorize_deviance(np.ones(3)).L[0][0] is None
    model.reweight(np.full(model.n, 0.5), model.y)
    f = model.factorize_deviance(np.ones(3))
    assert f.L[0][0] is not None
