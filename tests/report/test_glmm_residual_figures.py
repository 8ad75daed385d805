"""GLMM residual figures: Q-Q against the family's reference, residuals vs eta and vs each
predictor; a linear model keeps its residual panels."""

import numpy as np
import pandas as pd
import pytest

from mlmpipe.record import FitRecord
from mlmpipe.report.glmm_residual_figures import (
    glmm_residual_panels,
    level1_qq_residuals,
    level1_residual_figure,
)


def _diag(reference="logistic", npred=4):
    rng = np.random.default_rng(0)
    n = 500
    table = {"row": list(range(n)), "eta": rng.normal(size=n).tolist()}
    table["residual"] = (
        rng.logistic(size=n) if reference == "logistic" else rng.normal(size=n)
    ).tolist()
    table["z"] = rng.normal(size=n).tolist()
    for j in range(npred):
        table[f"x{j}"] = (rng.integers(0, 2, n) if j % 2 else rng.normal(size=n)).tolist()
    return {
        "model": "m1",
        "family": "ordinal" if reference == "logistic" else "poisson",
        "link": "logit" if reference == "logistic" else "log",
        "residual": "surrogate",
        "reference": reference,
        "residual_table": table,
    }


@pytest.mark.parametrize("reference,npred,visible", [("logistic", 4, 7), ("normal", 0, 3)])
def test_panels_per_predictor(reference, npred, visible):
    fig = glmm_residual_panels(_diag(reference, npred))
    axes = [a for a in fig.axes if a.get_visible()]
    assert len(axes) == visible
    assert axes[0].get_title() == f"Q-Q vs standard {reference}"
    assert axes[1].get_xlabel() == "linear predictor eta"
    assert [a.get_xlabel() for a in axes[3:]] == [f"x{j}" for j in range(npred)]


def test_dispatch_between_glmm_and_lmm():
    resid = pd.DataFrame(
        {"row": range(50), "fitted": np.linspace(0, 1, 50), "residual": np.sin(np.arange(50))}
    )
    fit = FitRecord.from_dict({"formula": "y ~ x + (1 | g)", "sigma": 2.0})
    lmm = level1_residual_figure(fit, resid, {"heteroscedasticity": {}})
    assert len(lmm.axes) == 4 and lmm.axes[1].get_title() == "residuals vs fitted"
    d = _diag()
    glmm = fit.replace(sigma=1.0)
    assert level1_residual_figure(glmm, resid, d).axes[0].get_title().startswith("Q-Q")
    assert np.array_equal(level1_qq_residuals(resid, {}), resid["residual"].to_numpy())
    assert np.array_equal(level1_qq_residuals(resid, d), np.asarray(d["residual_table"]["z"]))
