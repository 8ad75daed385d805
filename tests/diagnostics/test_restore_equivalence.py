"""Cluster influence from a FitRecord gives the numbers of the code it replaces: the full-data
model restored from the record (no refit) against the full refit of the formula text on the same
data that ``leave_one_cluster_out`` ran before fit records (``restore`` patched back to that
refit), equal to 1e-10 relative for LMMs (Satterthwaite and Kenward-Roger fits: V is the
unadjusted covariance either way) and GLMMs (a simulated binary model; the HSB binary example's
final model)."""

import numpy as np
import pandas as pd
import pytest
from scipy import special

import mlmpipe
from mlmpipe.data.example import load_example
from mlmpipe.diagnostics import glmm_influence, influence, leave_one_cluster_out
from mlmpipe.engine.fit import fit_design
from mlmpipe.engine.glmm import fit_glmm_design
from mlmpipe.formula import build_design
from mlmpipe.record import FitRecord
from mlmpipe.record.capture import record_from_result

RTOL = 1e-10


def _full_lmm_refit(rec: FitRecord, data: pd.DataFrame):
    """The full-data step before fit records: the formula text refitted by the fit's criterion."""
    return fit_design(build_design(rec.formula_text, data), reml=rec.reml, df_method="none")


def _full_glmm_refit(rec: FitRecord, data: pd.DataFrame):
    """The full-data step before fit records: the GLMM refitted with its family, link and nAGQ."""
    fam = rec.family
    design = build_design(rec.formula_text, data)
    return fit_glmm_design(design, fam.name, fam.link, int(fam.nagq or 1))


def _assert_same(new: dict, old: dict) -> None:
    assert new["warnings"] == old["warnings"] and new["method"] == old["method"]
    assert new["cutoffs"] == old["cutoffs"] and new["clusters"] == old["clusters"]
    a, b = pd.DataFrame(new["table"]), pd.DataFrame(old["table"])
    assert list(a.columns) == list(b.columns) and len(a) == new["clusters"]
    for c in a.columns:
        if a[c].dtype.kind == "f":
            np.testing.assert_allclose(a[c], b[c], rtol=RTOL, atol=0, err_msg=c)
        else:
            assert a[c].tolist() == b[c].tolist(), c


def _old_and_new(monkeypatch, module, refit, rec, data, group):
    new = leave_one_cluster_out(rec, data, group)
    with monkeypatch.context() as m:
        m.setattr(module, "restore", refit)
        old = leave_one_cluster_out(rec, data, group)
    return new, old


@pytest.fixture(scope="module")
def sim():
    rng = np.random.default_rng(5)
    J, n = 16, 12
    g = np.repeat(np.arange(J), n)
    x = rng.normal(size=J * n)
    y = 1.0 + 0.5 * x + rng.normal(scale=0.7, size=J)[g] + 0.6 * rng.normal(size=J)[g] * x
    yb = rng.binomial(1, special.expit(-0.3 + 0.8 * x + rng.normal(0, 0.6, J)[g]))
    return pd.DataFrame({"y": y + rng.normal(size=J * n), "yb": yb, "x": x, "g": g})


@pytest.mark.parametrize("df_method", ["satterthwaite", "kenward_roger"])
def test_lmm_influence_restored_equals_refitted(monkeypatch, sim, df_method):
    res = mlmpipe.fit("y ~ x + (1 + x | g)", sim, reml=True, df_method=df_method)
    rec = record_from_result(res, model="sim")
    new, old = _old_and_new(monkeypatch, influence, _full_lmm_refit, rec, sim, "g")
    _assert_same(new, old)


def test_glmm_influence_restored_equals_refitted(monkeypatch, sim):
    rec = record_from_result(mlmpipe.fit("yb ~ x + (1 | g)", sim, family="binomial"))
    new, old = _old_and_new(monkeypatch, glmm_influence, _full_glmm_refit, rec, sim, "g")
    _assert_same(new, old)


@pytest.mark.slow
def test_hsb_binary_cooks_distances_restored_equal_refitted(monkeypatch, tmp_path):
    """The example plan's final model (config/examples/hsb_binary.yaml), its record stored and
    loaded as the pipeline does."""
    d = load_example("hsb_binary")
    d["meanses"] = d.groupby("school")["ses"].transform("mean")
    d["cses"] = d["ses"] - d["meanses"]
    formula = "proficient ~ 1 + cses + minrty + sx + meanses + sector + (1 | school)"
    res = mlmpipe.fit(formula, d, family="binomial")
    record_from_result(res, model="m2_level2").save(tmp_path / "imp0.json")
    rec = FitRecord.load(tmp_path / "imp0.json")
    new, old = _old_and_new(monkeypatch, glmm_influence, _full_glmm_refit, rec, d, "school")
    _assert_same(new, old)
