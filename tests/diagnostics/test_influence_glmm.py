"""Leave-one-cluster-out influence of a GLMM refits the GLMM (same family and link), not an LMM."""

import numpy as np
import pandas as pd
import pytest
from scipy import special

import mlmpipe
from mlmpipe.diagnostics import leave_one_cluster_out


def test_glmm_influence_refits_the_glmm():
    rng = np.random.default_rng(3)
    J, m = 12, 25
    g = np.repeat(np.arange(J), m)
    x = rng.normal(size=J * m)
    y = rng.binomial(1, special.expit(-0.2 + 0.9 * x + rng.normal(0, 0.5, J)[g]))
    data = pd.DataFrame({"g": g, "x": x, "y": y})
    formula = "y ~ x + (1 | g)"
    full = mlmpipe.fit(formula, data, family="binomial")
    infl = leave_one_cluster_out(full.to_dict(), data, "g")
    assert infl["clusters"] == J and len(infl["table"]) == J and not infl["warnings"]
    red = mlmpipe.fit(formula, data[data["g"] != 0], family="binomial")
    diff = full.beta - red.beta
    cooks = diff @ np.linalg.inv(full.vcov) @ diff / 2
    row = infl["table"][0]
    assert row["cluster"] == "0"
    assert row["cooks_d"] == pytest.approx(cooks, rel=1e-6)
    se = np.sqrt(np.diag(red.vcov))
    assert row["dfbetas x"] == pytest.approx(diff[1] / se[1], rel=1e-6)
