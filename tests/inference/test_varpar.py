"""The SD/correlation parameterization of the variance parameters and its boundary Cholesky."""

import numpy as np
import pytest

from mlmpipe.engine.lmm import LinearMixedModel
from mlmpipe.formula import build_design
from mlmpipe.inference.varpar import VarPar, semichol


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(3)
    import pandas as pd

    n = 120
    d = pd.DataFrame(
        {
            "g": np.repeat(np.arange(12), 10),
            "h": np.tile(np.arange(6), 20),
            "x": rng.normal(size=n),
            "z": rng.normal(size=n),
        }
    )
    d["y"] = d["x"] + rng.normal(size=n)
    return LinearMixedModel(build_design("y ~ x + (1 + x + z | g) + (1 | h)", d), reml=False)


def test_names_follow_lme4(model):
    vp = VarPar(model)
    assert vp.names == [
        "sd_(Intercept)|g",
        "cor_x.(Intercept)|g",
        "cor_z.(Intercept)|g",
        "sd_x|g",
        "cor_z.x|g",
        "sd_z|g",
        "sd_(Intercept)|h",
        "sigma",
    ]
    assert vp.kinds.count("cor") == 3 and vp.kinds[-1] == "sigma"


def test_round_trip_and_covariance(model):
    vp = VarPar(model)
    theta = np.array([1.2, -0.3, 0.5, 0.8, 0.1, 0.6, 0.4])
    s = vp.from_theta(theta, 2.0)
    assert vp.to_theta(s) == pytest.approx(theta, rel=1e-12)
    T = model.reterms[0].T(theta[:6])
    S = 4.0 * T @ T.T
    assert s[0] == pytest.approx(np.sqrt(S[0, 0]))
    assert s[1] == pytest.approx(S[1, 0] / np.sqrt(S[0, 0] * S[1, 1]))
    assert s[4] == pytest.approx(S[2, 1] / np.sqrt(S[1, 1] * S[2, 2]))


def test_boundary_values_map_to_semidefinite_factors(model):
    vp = VarPar(model)
    s = np.array([2.0, 1.0, 0.0, 3.0, 0.0, 1.0, 0.0, 1.5])  # correlation 1, an SD of 0
    theta = vp.to_theta(s)
    T = model.reterms[0].T(theta[:6]) * 1.5
    assert T @ T.T == pytest.approx(np.array([[4, 6, 0], [6, 9, 0], [0, 0, 1.0]]), abs=1e-12)
    assert theta[-1] == 0.0
    bad = s.copy()
    bad[[1, 2, 4]] = [0.9, 0.9, -0.9]  # not a correlation matrix
    assert vp.to_theta(bad) is None


def test_semichol_matches_cholesky_inside_and_zeroes_columns_on_the_boundary():
    A = np.array([[4.0, 2.0], [2.0, 3.0]])
    assert semichol(A) == pytest.approx(np.linalg.cholesky(A))
    L = semichol(np.array([[0.0, 0.0], [0.0, 2.0]]))
    assert L == pytest.approx(np.array([[0.0, 0.0], [0.0, np.sqrt(2.0)]]))
    assert semichol(np.array([[1.0, 2.0], [2.0, 1.0]])) is None
