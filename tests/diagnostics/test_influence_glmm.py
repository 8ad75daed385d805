"""Leave-one-cluster-out influence of a GLMM: refits of the same GLMM at the full-data variance
parameters (not LMM refits of the 0/1 outcome), close to full refits."""

import numpy as np
import pandas as pd
from scipy import special

import mlmpipe
from mlmpipe.diagnostics import leave_one_cluster_out
from mlmpipe.record.capture import record_from_result


def test_glmm_influence_close_to_full_refits():
    rng = np.random.default_rng(3)
    J, m = 10, 30
    g = np.repeat(np.arange(J), m)
    x = rng.normal(size=J * m) + rng.normal(0, 0.5, J)[g]
    y = rng.binomial(1, special.expit(-0.2 + 0.9 * x + rng.normal(0, 0.5, J)[g]))
    data = pd.DataFrame({"g": g, "x": x, "y": y})
    formula = "y ~ x + (1 | g)"
    full = mlmpipe.fit(formula, data, family="binomial")
    infl = leave_one_cluster_out(record_from_result(full), data, "g")
    assert infl["clusters"] == J and len(infl["table"]) == J and not infl["warnings"]
    assert "variance parameters" in infl["method"]
    approx = np.array([r["cooks_d"] for r in infl["table"]])
    dfb = np.array([r["dfbetas x"] for r in infl["table"]])
    exact, exact_dfb = [], []
    Vinv = np.linalg.inv(full.vcov)
    for j in range(J):
        red = mlmpipe.fit(formula, data[data["g"] != j], family="binomial")
        diff = full.beta - red.beta
        exact.append(diff @ Vinv @ diff / 2)
        exact_dfb.append(diff[1] / np.sqrt(red.vcov[1, 1]))
    exact = np.array(exact)
    assert np.corrcoef(approx, exact)[0, 1] > 0.95
    top = np.argmax(exact)
    assert np.argmax(approx) == top and abs(approx[top] / exact[top] - 1) < 0.25
    # with 10 clusters theta moves when one is dropped: DFBETAS within 15% of the largest
    exact_dfb = np.array(exact_dfb)
    assert np.allclose(dfb, exact_dfb, atol=0.15 * np.max(np.abs(exact_dfb)))
    big = np.abs(exact_dfb) > 0.05
    assert np.array_equal(np.sign(dfb[big]), np.sign(exact_dfb[big]))
