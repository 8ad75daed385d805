"""The vectorised ordinal Laplace deviance equals the generic PIRLS one, and its analytic gradient
equals central differences (wine, logit and probit, at a point away from the optimum)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mlmpipe.engine.family import make_family
from mlmpipe.engine.glmm import GeneralizedLinearMixedModel
from mlmpipe.engine.ordinal_laplace import OrdinalLaplace, applicable
from mlmpipe.formula import build_design
from tests.reference.test_ordinal_parity import CASES, formula, load


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_deviance_and_gradient(link):
    case = CASES["wine_clmm_logit"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        design = build_design(formula(case), load(case))
        model = GeneralizedLinearMixedModel(design, make_family("ordinal", link), 1)
    assert applicable(model)
    ol = OrdinalLaplace(model)
    par = np.array([1.1, 1.2, 1.5, -1.0, 0.8, 0.9, 0.3])
    dev, grad = ol.deviance_grad(par)
    assert dev == pytest.approx(model.objective(par), abs=1e-9)
    h = 1e-5
    fd = [
        (ol.deviance_grad(par + h * e)[0] - ol.deviance_grad(par - h * e)[0]) / (2 * h)
        for e in np.eye(par.size)
    ]
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-6)
    assert np.max(np.abs(grad)) > 1.0  # away from the optimum: the check is not of zeros
