"""One random structure for all imputations of a model (steps.models.fit_imputations): fits of
different models cannot be pooled, so when the convergence ladder ends at different structures
every data set is refitted with the simplest one reached."""

import numpy as np
import pandas as pd

from mlmpipe.plan import load_plan
from mlmpipe.plan.slices import FitSlice
from mlmpipe.steps.models import fit_imputations, fit_step, pool_step


def _data(slope_sd: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(30), 20)
    x = rng.normal(size=g.size)
    b0, b1 = rng.normal(0, 1, 30), rng.normal(0, slope_sd, 30)
    y = 1 + 0.5 * x + b0[g] + b1[g] * x + rng.normal(size=g.size)
    return pd.DataFrame({"y": y, "x": x, "g": g.astype(str)})


def test_imputations_that_end_at_different_structures_are_refitted_alike():
    plan = load_plan("config/analysis.yaml")
    fspec = FitSlice("m", "y ~ 1 + x + (1 + x | g)", "reml", "mlmpipe", plan.convergence)
    sets = [_data(0.8, 1), _data(0.0, 3), _data(0.8, 8)]
    alone = [fit_step(d, fspec)[0].formula_text for d in sets]
    assert len(set(alone)) > 1, alone  # the ladder simplifies the slope-free set only
    records = [r for r, _ in fit_imputations(sets, fspec)]
    formulas = {r.formula_text for r in records}
    assert len(formulas) == 1
    simplest = min(alone, key=len)
    assert formulas == {simplest}
    for r in records:
        assert r.ladder["common_structure"] == simplest
        assert r.ladder["per_imputation"] == alone
    pooled = pool_step(records)  # poolable now
    assert pooled.is_pooled and len(pooled.fixed) == 2


def test_imputations_that_agree_are_left_as_fitted():
    plan = load_plan("config/analysis.yaml")
    fspec = FitSlice("m", "y ~ 1 + x + (1 + x | g)", "reml", "mlmpipe", plan.convergence)
    sets = [_data(0.8, 1), _data(0.8, 8)]
    records = [r for r, _ in fit_imputations(sets, fspec)]
    assert all("common_structure" not in (r.ladder or {}) for r in records)
    direct = [fit_step(d, fspec)[0] for d in sets]
    for a, b in zip(records, direct, strict=True):
        np.testing.assert_array_equal(a.beta, b.beta)
