"""Where effect sizes used to refit a model or rebuild it from its formula text, they now restore
the fit record or evaluate its parsed formula: the numbers are the old ones to 1e-10 relative
(the old computation is spelled out here: a refit of the formula text on the same data)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import mlmpipe
from mlmpipe.effects import icc_ci
from mlmpipe.effects.icc_ci import icc_profile_ci
from mlmpipe.effects.interactions import (
    analyse_interactions,
    interaction_analysis,
    interaction_model,
)
from mlmpipe.effects.parts import fit_parts
from mlmpipe.engine.lmm import LinearMixedModel
from mlmpipe.formula import build_design
from mlmpipe.record import FitRecord, Pooling
from mlmpipe.record.capture import record_from_result
from mlmpipe.record.restore import restore

REL = 1e-10


def assert_same(got, want, path="") -> None:
    """Equal JSON-like values, floats to ``REL`` relative."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), path
        for k in want:
            assert_same(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, list | tuple):
        assert len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same(g, w, f"{path}[{i}]")
    elif isinstance(want, float | np.floating) and not isinstance(want, bool):
        if math.isnan(want):
            assert math.isnan(got), path
        else:
            assert got == pytest.approx(want, rel=REL, abs=1e-300), path
    else:
        assert got == want, path


@pytest.fixture(scope="module")
def hsb_cross(rfix, hsb, tmp_path_factory):
    """The HSB cross-level model fitted by the engine, its record saved and loaded as the pipeline
    stores it, and the old computation: a refit of the formula text on the same data."""
    formula = rfix["models"]["m4_cross"]["formula"]
    res = mlmpipe.fit(formula, hsb, reml=True)
    path = tmp_path_factory.mktemp("rec") / "imp0.json"
    record_from_result(res, model="m4_cross", estimator="reml").save(path)
    rec = FitRecord.load(path)
    old = analyse_interactions(mlmpipe.fit(formula, hsb, reml=True))
    return rec, old


def test_interactions_restored_equal_the_refit(hsb_cross, hsb):
    rec, old = hsb_cross
    out = interaction_analysis(rec, hsb)
    assert out["model"] == "m4_cross" and len(out["interactions"]) == 1
    assert_same(out["interactions"], old)


def test_interactions_of_a_pooled_record_refit_on_the_data(hsb_cross, hsb):
    rec, old = hsb_cross
    pooled = rec.replace(pooling=Pooling("rubin", 2))
    with pytest.raises(mlmpipe.errors.EstimationError, match="pooled"):
        restore(pooled, hsb)
    assert_same(interaction_analysis(pooled, hsb)["interactions"], old)


def test_interactions_of_a_kenward_roger_record_use_the_unadjusted_covariance():
    rng = np.random.default_rng(5)
    g = np.repeat(np.arange(12), 6)
    x = rng.normal(size=g.size)
    w = rng.normal(size=12)[g]
    y = 1 + 0.5 * x + 0.3 * w + 0.4 * x * w + rng.normal(size=12)[g] + rng.normal(size=g.size)
    d = pd.DataFrame({"y": y, "x": x, "w": w, "g": g})
    formula = "y ~ x * w + (1 | g)"
    res = mlmpipe.fit(formula, d, reml=True, df_method="kenward_roger")
    rec = record_from_result(res)
    assert not np.allclose(rec.vcov, interaction_model(rec, d).vcov, rtol=1e-6)  # KR-adjusted
    old = analyse_interactions(mlmpipe.fit(formula, d, reml=True))
    assert_same(interaction_analysis(rec, d)["interactions"], old)


def test_icc_profile_deviance_is_the_rebuilt_models(rrecs, hsb):
    rec = rrecs["m0_null"]
    old = LinearMixedModel(build_design(rec.formula_text, hsb), reml=rec.reml)
    new = restore(rec, hsb).model
    for t in (0.0, 0.1, float(rec.theta[0]), 0.5, 2.0):
        assert new.objective(np.array([t])) == pytest.approx(old.objective(np.array([t])), rel=REL)
    ci = icc_profile_ci(rec, hsb)
    assert ci["low"] < ci["icc"] < ci["high"]
    with pytest.MonkeyPatch.context() as mp:  # the old computation: the model rebuilt from text
        mp.setattr(icc_ci, "restore", lambda rec, data: SimpleNamespace(model=old))
        assert_same(ci, icc_profile_ci(rec, hsb))


def test_fit_parts_design_is_the_formula_texts(rrecs, hsb):
    rec = rrecs["m4_cross"]
    parts = fit_parts(rec, hsb)
    design = build_design(rec.formula_text, hsb)
    cols = list(design.fixed_names)
    want = np.asarray(design.X, float)[:, [cols.index(t) for t in rec.fixed_terms]]
    np.testing.assert_array_equal(parts.X, want)
    np.testing.assert_array_equal(parts.y, np.asarray(design.y, float))
