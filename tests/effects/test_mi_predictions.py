"""GLMM predictions under multiple imputation (``effects/mi_predictions.py``): refits per completed
data set pooled by Rubin's rules on the link scale, on small seeded simulated data sets."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from mlmpipe.effects.glmm_predictions import glmm_predictions, make_layout, predict_layout, refit
from mlmpipe.effects.mi_predictions import glmm_predictions_mi, pool_predictions
from mlmpipe.missing.rubin import barnard_rubin_df
from mlmpipe.record import FitRecord, ModelFamily
from mlmpipe.steps.effects import predictions_step
from tests.effects.test_glmm_predictions import GLMM, NO_PLAN, SPEC, _data

FIT = FitRecord.from_dict({"model": "m1", "formula": "y ~ x + w + (1 | g)"} | GLMM)
ORDINAL = FIT.replace(family=ModelFamily("ordinal", "logit", 1))


def _imputations(d: pd.DataFrame, m: int, seed: int = 11) -> list[pd.DataFrame]:
    """Completed data sets that differ as imputations do: x redrawn for 10% of the rows."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(d), len(d) // 10, replace=False)
    out = []
    for _ in range(m):
        e = d.copy()
        e.loc[rows, "x"] = rng.normal(size=len(rows))
        out.append(e)
    return out


def test_identical_imputations_give_the_single_data_set_predictions():
    d = _data()
    single = glmm_predictions(FIT, d, SPEC | {"predictions": NO_PLAN})
    pooled = glmm_predictions_mi(FIT, [d, d, d], SPEC | {"predictions": NO_PLAN})
    assert pooled["imputations"] == 3 and single["imputations"] == 0
    s, p = pd.DataFrame(single["table"]), pd.DataFrame(pooled["table"])
    assert list(s["kind"]) == list(p["kind"]) and list(s["cluster"]) == list(p["cluster"])
    np.testing.assert_allclose(p["fit"], s["fit"], rtol=1e-12)
    np.testing.assert_allclose(p["between"], 0.0, atol=1e-20)
    np.testing.assert_allclose(p["total"], p["within"], rtol=1e-12)
    np.testing.assert_allclose(p["within"], s["link_se"] ** 2, rtol=1e-12)
    # B = 0: Barnard-Rubin df -> huge (lambda floored at 1e-4), so t ~ z and the intervals agree
    assert np.all(p["df"] > 1e7)
    np.testing.assert_allclose(p["low"], s["low"], rtol=1e-6)
    np.testing.assert_allclose(p["high"], s["high"], rtol=1e-6)
    assert "Pooled over 3 imputations" in pooled["method"]
    assert "variance components jointly" in pooled["method"]
    json.dumps(pooled)


def test_different_imputations_total_variance_is_w_plus_between():
    datas = _imputations(_data(), 3)
    spec = SPEC | {"predictions": NO_PLAN}
    fits = [refit(FIT, e) for e in datas]
    lay = make_layout(*fits[0], spec["predictions"])
    tables = [predict_layout(r, u, lay, 0.05)[0] for r, u in fits]
    pooled = pool_predictions(tables, special.expit, 0.05)
    q = np.array([t["link_fit"] for t in tables])
    u = np.array([t["link_se"] ** 2 for t in tables])
    W, B = u.mean(axis=0), q.var(axis=0, ddof=1)
    assert np.all(B > 0)
    np.testing.assert_allclose(pooled["within"], W, rtol=1e-12)
    np.testing.assert_allclose(pooled["between"], B, rtol=1e-12)
    np.testing.assert_allclose(pooled["total"], W + (1 + 1 / 3) * B, rtol=1e-12)
    df = barnard_rubin_df(3, B, W + (1 + 1 / 3) * B, np.inf)
    np.testing.assert_allclose(pooled["df"], df, rtol=1e-12)
    crit = stats.t.ppf(0.975, df)
    qbar, se = q.mean(axis=0), np.sqrt(W + (1 + 1 / 3) * B)
    np.testing.assert_allclose(pooled["fit"], special.expit(qbar), rtol=1e-12)
    np.testing.assert_allclose(pooled["low"], special.expit(qbar - crit * se), rtol=1e-12)
    np.testing.assert_allclose(pooled["high"], special.expit(qbar + crit * se), rtol=1e-12)
    # the full function pools the same tables (grid and clusters from the first data set)
    out = glmm_predictions_mi(FIT, datas, spec)
    np.testing.assert_allclose(pd.DataFrame(out["table"])["fit"], pooled["fit"], rtol=1e-10)
    with pytest.raises(ValueError, match="imputation 2 predicted different rows"):
        pool_predictions([tables[0], tables[1].iloc[:-1]], special.expit)


def test_step_pools_a_list_of_data_sets_ordinal():
    """The predictions step with several data sets (an imputation plan): pooled ordinal category
    probabilities, curves and the plot; pooled categories sum to 1 up to ``sum_deviation``."""
    datas = _imputations(_data(3, "ordinal"), 2, seed=5)
    spec = {"alpha": 0.05, "family": "ordinal", "link": "logit", "nagq": 1}
    result, figs = predictions_step(datas, ORDINAL, json.dumps(spec | {"predictions": NO_PLAN}))
    assert result["imputations"] == 2 and list(figs) == ["predicted_categories"]
    t = pd.DataFrame(result["table"])
    assert set(t["category"]) == {0, 1, 2, 3} and np.all(t["between"] >= 0)
    assert 0 <= result["sum_deviation"] < 1e-2
    assert np.all((t["low"] <= t["fit"]) & (t["fit"] <= t["high"]))
    assert "logit of each category probability" in result["method"]
