"""Effect sizes under multiple imputation (mlmpipe.effects.pooled): computed per imputed data set
and pooled, averages for point estimates, Rubin on the logit scale for the ICC interval."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import mlmpipe
from mlmpipe.effects.pooled import pool_icc_ci
from mlmpipe.effects.summary import effect_sizes
from mlmpipe.missing import handle_missing
from mlmpipe.record.capture import record_from_result
from mlmpipe.steps.effects import effects_step

CSPEC = {
    "models": [
        {"name": "m0", "label": "null", "formula": "y ~ 1 + (1 | g)"},
        {"name": "m1", "label": "+ x", "formula": "y ~ x + (1 | g)"},
    ],
    "estimators": ["reml"],
    "alpha": 0.05,
    "levels": [["unit", None], ["cluster", "g"]],
}


@pytest.fixture(scope="module")
def imputed():
    rng = np.random.default_rng(21)
    g = np.repeat(np.arange(30), 10)
    x = rng.normal(size=300) + rng.normal(size=30)[g]
    y = 0.6 * x + rng.normal(size=30)[g] + rng.normal(size=300)
    y[rng.random(300) < 1 / (1 + np.exp(1.5 - x))] = np.nan  # MAR on x
    df = pd.DataFrame({"g": g, "x": x, "y": y})
    levels = [("unit", None, ["x"]), ("cluster", "g", [])]
    spec = {"method": "multiple_imputation", "m": 3, "iterations": 5, "donors": 5}
    sets, _ = handle_missing(df, spec, levels, "y", {"x": ("continuous", None)}, seed=3)
    return sets[1:]


def fits_on(datasets):
    out = []
    for m in CSPEC["models"]:
        for d in datasets:
            res = mlmpipe.fit(m["formula"], d, reml=True)
            out.append(record_from_result(res, model=m["name"], estimator="reml"))
    return out


def test_effect_sizes_are_computed_per_imputation_and_averaged(imputed):
    fits = fits_on(imputed)
    pooled = effects_step(imputed, fits, CSPEC)
    per = [
        effect_sizes(
            ["m0", "m1"], {f.model: f for f in fits[k :: len(imputed)]}, imputed[k], level=0.95
        )
        for k in range(len(imputed))
    ]
    assert pooled["pooling"]["m"] == 3
    for key in ("r2_marginal", "r2_conditional"):
        want = np.mean([e["models"]["m1"]["nakagawa"][key] for e in per])
        assert pooled["models"]["m1"]["nakagawa"][key] == pytest.approx(want, rel=1e-12)
    b = [e["models"]["m1"]["standardized"][0]["beta_basic"] for e in per]
    assert pooled["models"]["m1"]["standardized"][0]["beta_basic"] == pytest.approx(np.mean(b))
    assert len({round(v, 8) for v in b}) == 3  # the imputations differ
    assert (
        pooled["models"]["m1"]["standardized"][0]["level"]
        == per[0]["models"]["m1"]["standardized"][0]["level"]
    )
    ci = pooled["icc_ci"]
    assert ci["low"] < ci["icc"] < ci["high"] and ci["m"] == 3 and 0 <= ci["fmi"] <= 1
    icc = [e["icc_ci"]["icc"] for e in per]
    assert min(icc) <= ci["icc"] <= max(icc)  # back-transformed mean logit


def test_one_data_set_gives_the_unpooled_effect_sizes(imputed):
    one = imputed[:1]
    fits = fits_on(one)
    direct = effect_sizes(["m0", "m1"], {f.model: f for f in fits}, one[0], level=0.95)
    assert effects_step(one, fits, CSPEC) == direct
    assert effects_step(one[0], fits, CSPEC) == direct


def test_icc_interval_pooled_on_the_logit_scale_by_hand():
    cis = [{"icc": 0.2, "low": 0.1, "high": 0.35}, {"icc": 0.3, "low": 0.0, "high": 0.5}]
    z = stats.norm.ppf(0.975)

    def logit(p):
        return math.log(p / (1 - p))

    q = [logit(0.2), logit(0.3)]
    u = [((logit(0.35) - logit(0.1)) / (2 * z)) ** 2, ((logit(0.5) - logit(0.3)) / z) ** 2]
    t = np.mean(u) + 1.5 * np.var(q, ddof=1)
    out = pool_icc_ci(cis, 0.95)
    assert out["icc"] == pytest.approx(1 / (1 + math.exp(-np.mean(q))))
    lam = 1.5 * np.var(q, ddof=1) / t
    crit = stats.t.ppf(0.975, 1 / lam**2)  # Barnard-Rubin df with infinite complete-data df
    assert out["high"] == pytest.approx(1 / (1 + math.exp(-(np.mean(q) + crit * math.sqrt(t)))))
    assert "note" in pool_icc_ci([{"note": "no interval"}, cis[0]], 0.95)
