"""Leave-one-cluster-out influence and residual diagnostics on simulated two-level data."""

import numpy as np
import pandas as pd
import pytest

import mlmpipe
from mlmpipe.diagnostics import (
    flagged_clusters,
    influence_table,
    leave_one_cluster_out,
    residual_diagnostics,
    standardized_modes,
)
from mlmpipe.errors import EstimationError
from mlmpipe.record.capture import record_from_result

FORMULA = "y ~ 1 + x + (1 | g)"


@pytest.fixture(scope="module")
def sim():
    rng = np.random.default_rng(7)
    J, n = 24, 15
    g = np.repeat(np.arange(J), n)
    x = rng.normal(size=J * n)
    u = rng.normal(scale=0.8, size=J)[g]
    y = 1.0 + 0.5 * x + u + rng.normal(size=J * n)
    y[g == 5] += 4.0 * x[g == 5]  # cluster 5 has a very different slope: influential on x
    y[(g == 9) & (np.arange(J * n) % n == 0)] += 9.0  # one level-1 outlier
    d = pd.DataFrame({"y": y, "x": x, "g": g})
    res = mlmpipe.fit(FORMULA, d, reml=True)
    fit = record_from_result(res, model="sim")
    resid = pd.DataFrame({"row": res.rows, "fitted": res.fitted(), "residual": res.residuals()})
    return d, fit, resid


def test_cooks_distance_and_dfbetas_match_direct_refits(sim):
    d, fit, _ = sim
    infl = leave_one_cluster_out(fit, d, "g")
    t = influence_table(infl)
    assert infl["clusters"] == 24 and len(t) == 24 and not infl["warnings"]
    beta = np.array([f.estimate for f in fit.fixed])
    full = mlmpipe.fit(FORMULA, d, reml=True, df_method="none")
    for cid in ("5", "17"):
        r = mlmpipe.fit(FORMULA, d[d["g"] != int(cid)], reml=True, df_method="none")
        diff = beta - r.beta
        row = t.set_index("cluster").loc[cid]
        want = diff @ np.linalg.solve(full.vcov, diff) / 2
        assert row["cooks_d"] == pytest.approx(want, rel=1e-4)
        assert row["dfbetas x"] == pytest.approx(diff[1] / np.sqrt(r.vcov[1, 1]), rel=1e-4)
    top = flagged_clusters(infl)
    assert top["cluster"].iloc[0] == "5" and bool(top["flag_cooks"].iloc[0])
    assert infl["cutoffs"]["cooks_d"] == pytest.approx(4 / 24)


def test_residual_diagnostics_find_planted_outlier(sim):
    d, fit, resid = sim
    out = residual_diagnostics(fit, resid, d, "g")
    l1 = pd.DataFrame(out["level1_outliers"])
    assert len(l1) >= 1 and l1["cluster"].iloc[0] == "9"
    assert abs(l1["standardized"].iloc[0]) > 3
    het = out["heteroscedasticity"]
    assert het["df1"] == 23 and 0 <= het["p"] <= 1 and len(het["cluster_sd"]) == 24
    z = standardized_modes(fit)["g"]
    assert z.shape == (24, 1)
    # standardized modes have roughly unit variance under the model
    assert 0.5 < z["(Intercept)"].std() < 1.6


def test_influence_names_missing_group(sim):
    d, fit, _ = sim
    with pytest.raises(EstimationError, match="'school'"):
        leave_one_cluster_out(fit, d, "school")
