"""The blocked Cholesky factor against NumPy's dense Cholesky of the same matrix."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mlmpipe.engine import blocks as B
from mlmpipe.engine.lmm import LinearMixedModel
from tests.engine.conftest import make_design
from tests.engine.dense import dense_Z_Lambda


def assemble(model: LinearMixedModel, f) -> np.ndarray:
    sizes = [model.reterms[i].nranef for i in model.order] + [model.p + 1]
    starts = np.concatenate([[0], np.cumsum(sizes)])
    L = np.zeros((starts[-1], starts[-1]))
    for j in range(len(sizes)):
        for i in range(j + 1):
            L[starts[j] : starts[j + 1], starts[i] : starts[i + 1]] = B.to_dense(f.L[j][i])
    return L


def full_matrix(model: LinearMixedModel, theta: np.ndarray) -> np.ndarray:
    Z, Lam = dense_Z_Lambda(model, theta)
    ZL = Z @ Lam
    XY = np.column_stack([model.X, model.y])
    top = np.hstack([ZL.T @ ZL + np.eye(ZL.shape[1]), ZL.T @ XY])
    bottom = np.hstack([XY.T @ ZL, XY.T @ XY])
    return np.vstack([top, bottom])


def check(design, theta) -> None:
    model = LinearMixedModel(design)
    f = model.factorize(theta)
    L = assemble(model, f)
    ref = np.linalg.cholesky(full_matrix(model, theta))
    np.testing.assert_allclose(L, ref, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(f.pwrss, ref[-1, -1] ** 2, rtol=1e-10)


def test_crossed_two_terms(rng):
    d = make_design(rng, groups=((12, 2), (5, 1)))
    check(d, np.array([0.8, 0.3, 0.5, 1.2]))


def test_nested_terms_keep_block_diagonal(rng):
    d = make_design(rng, n=200, groups=((40, 2), (8, 2)), nested=True)
    model = LinearMixedModel(d)
    f = model.factorize(np.array([1.0, 0.1, 0.7, 0.5, -0.2, 0.3]))
    assert isinstance(f.L[1][1], B.BlockDiag)  # no fill-in: nested terms stay block-diagonal
    check(d, np.array([1.0, 0.1, 0.7, 0.5, -0.2, 0.3]))


def test_three_crossed_terms_with_q3(rng):
    d = make_design(rng, n=150, groups=((15, 3), (7, 1), (4, 1)))
    check(d, np.array([0.9, 0.2, -0.1, 0.6, 0.3, 0.4, 1.1, 0.7]))


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    m1=st.integers(2, 15),
    q1=st.integers(1, 3),
    m2=st.integers(2, 6),
    nested=st.booleans(),
)
def test_blocked_equals_dense_property(seed, m1, q1, m2, nested):
    rng = np.random.default_rng(seed)
    d = make_design(rng, n=90, groups=((m1, q1), (m2, 1)), nested=nested and m2 < m1)
    model = LinearMixedModel(d)
    theta = rng.uniform(0.05, 1.5, size=model.ntheta)
    check(d, theta)
