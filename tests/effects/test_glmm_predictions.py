"""The pipeline's GLMM predictions (``effects/glmm_predictions.py``), the prediction plot and the
report section for non-gaussian fits, on small seeded simulated data sets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlmpipe
from mlmpipe.effects.glmm_predictions import glmm_predictions
from mlmpipe.effects.prediction_grid import predict_at, prediction_model
from mlmpipe.errors import PlanError
from mlmpipe.record import FitRecord
from mlmpipe.record.capture import record_from_result
from mlmpipe.report.glmm_section import glmm_section
from mlmpipe.report.prediction_figures import prediction_figures

SPEC = {"alpha": 0.05, "family": "binomial", "link": "logit", "nagq": 1}
GLMM = {k: SPEC[k] for k in ("family", "link", "nagq")}  # the family of the fit records below
NO_PLAN = {"at": {}, "focal": "", "moderator": "", "clusters": []}


def _data(seed: int = 7, kind: str = "binary") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    J, n = 40, 25
    g = np.repeat(np.arange(J), n)
    w = np.repeat(rng.choice(["A", "B"], J), n)
    x = rng.normal(size=J * n)
    eta = -0.3 + 0.8 * x + 0.5 * (w == "B") + np.repeat(rng.normal(0, 0.8, J), n)
    if kind == "binary":
        y = rng.binomial(1, 1 / (1 + np.exp(-eta)))
    else:
        lat = eta + rng.logistic(size=J * n)
        y = np.digitize(lat, [-1.0, 0.5, 2.0])
    return pd.DataFrame(
        {"y": y, "x": x, "w": pd.Categorical(w, categories=["A", "B"]), "g": g.astype(str)}
    )


@pytest.fixture(scope="module")
def binary():
    d = _data()
    fit = FitRecord.from_dict({"model": "m1", "formula": "y ~ x + w + (1 | g)"} | GLMM)
    return d, fit, glmm_predictions(fit, d, SPEC | {"predictions": NO_PLAN})


def test_default_predictions(binary):
    d, fit, out = binary
    assert out["focal"] == "x" and out["moderator"] == "w"
    assert out["variables"]["w"]["within_cluster"] is False
    t = pd.DataFrame(out["table"])
    assert len(t[t["kind"] == "conditional"]) == 3 * 2  # x: mean +- SD, w: A, B
    ((group, labels),) = out["clusters"].items()
    assert group == "g" and len(labels) == 3
    res = mlmpipe.fit(fit.formula_text, d, family="binomial")
    modes = res.ranef()["g"]["(Intercept)"]
    assert labels[0] == str(modes.idxmin()) and labels[-1] == str(modes.idxmax())
    pa, cond = t[t["kind"] == "population-averaged"], t[t["kind"] == "conditional"]
    assert np.all(pa["sd_random"] > 0) and np.all(cond["sd_random"] == 0)
    assert np.all((t["low"] < t["fit"]) & (t["fit"] < t["high"]))
    curves = pd.DataFrame(out["curves"])
    assert set(curves["moderator_value"]) == {"w = A", "w = B"}
    # the report states what each interval includes; this fit's Hessian is usable, so the
    # population averages carry the variance components
    assert "Typical cluster: uncertainty of the fixed effects only" in out["method"]
    assert "fixed effects and variance components jointly" in out["method"]
    assert out["imputations"] == 0
    assert set(curves["kind"]) == {"conditional", "population-averaged"}
    json.dumps(out)  # the artifact is JSON


def test_planned_values_and_errors(binary):
    d, fit, _ = binary
    plan = NO_PLAN | {"at": {"x": [-1, 0, 1]}, "clusters": ["3", "5"], "focal": "x"}
    out = glmm_predictions(fit, d, SPEC | {"predictions": plan})
    t = pd.DataFrame(out["table"])
    assert out["planned"] and sorted(t["x"].unique()) == [-1, 0, 1]
    assert set(t["w"]) == {"A"}  # not listed: first level
    assert set(t["cluster"].dropna()) == {"g=3", "g=5"}
    with pytest.raises(PlanError, match="report.predictions.focal: 'w' is not continuous"):
        glmm_predictions(fit, d, SPEC | {"predictions": NO_PLAN | {"focal": "w"}})
    with pytest.raises(PlanError, match="report.predictions.clusters: g '999'"):
        glmm_predictions(fit, d, SPEC | {"predictions": NO_PLAN | {"clusters": [999]}})


def test_report_section_and_figure(binary, tmp_path):
    from mlmpipe.report.figure_files import save_figures

    d, fit, out = binary
    figs = prediction_figures(out)
    assert list(figs) == ["predicted_means"]
    save_figures(figs, tmp_path / "figs")
    (tmp_path / "pred.json").write_text(json.dumps(out))
    res = mlmpipe.fit(fit.formula_text, d, family="binomial")
    f = record_from_result(res, model="m1", estimator="ml")
    items = glmm_section([f], [str(tmp_path / "pred.json"), str(tmp_path / "figs")])
    kinds = [k for k, _ in items]
    assert "png" in kinds
    tables = [o for k, o in items if k == "table"]
    ratio = tables[0]
    assert "odds ratio" in ratio.columns
    np.testing.assert_allclose(ratio["odds ratio"], np.exp(res.beta))
    assert tables[1]["scale"].iloc[0].startswith("latent scale")
    pred_table = tables[2]
    assert {"typical cluster: fit", "population-averaged: fit"} <= set(pred_table.columns)
    gauss = FitRecord.from_dict({"formula": "y ~ 1 + (1 | g)", "model": "m", "estimator": "reml"})
    assert glmm_section([gauss], []) == []
    from mlmpipe.report.tables import fixed_table

    assert "z" in fixed_table(f).columns and "df" not in fixed_table(f).columns


def test_ordinal_category_predictions():
    d = _data(3, "ordinal")
    res = mlmpipe.fit("y ~ x + w + (1 | g)", d, family="ordinal")
    grid = pd.DataFrame({"x": [-1.0, 1.0], "w": pd.Categorical(["A", "B"], categories=["A", "B"])})
    t = predict_at(res, grid, clusters={"g": ["0"]}, data=d)
    assert set(t["category"]) == {0, 1, 2, 3}
    for kind, s in t.groupby(["kind", "x"])["fit"]:
        assert s.sum() == pytest.approx(1.0, abs=1e-10), kind
    assert np.all(t["high"] - t["low"] > 0)
    # conditional category probabilities as the cumulative model P(Y <= k) = F(a_k - eta)
    a = np.asarray(res.glmm.family.alpha)
    eta = res.beta[0] * -1.0  # x = -1, w = A
    p = np.diff(np.concatenate([[0.0], 1 / (1 + np.exp(-(a - eta))), [1.0]]))
    cond = t[(t["kind"] == "conditional") & (t["x"] == -1.0)].sort_values("category")
    np.testing.assert_allclose(cond["fit"], p, rtol=1e-10)
    # the joint covariance of (beta, thresholds) agrees with the fit's SEs
    pm = prediction_model(res)
    se = np.sqrt(np.diag(pm.vcov_joint))
    np.testing.assert_allclose(se[:2], np.sqrt(np.diag(res.vcov)), rtol=1e-8)
    np.testing.assert_allclose(se[2:], [r["se"] for r in res.thresholds()], rtol=1e-8)
    # the pipeline's output and plot for an ordinal plan: one panel per moderator level
    spec = {"alpha": 0.05, "family": "ordinal", "link": "logit", "nagq": 1}
    rec = FitRecord.from_dict(
        {"formula": "y ~ x + w + (1 | g)", "family": "ordinal", "link": "logit"}
    )
    out = glmm_predictions(rec, d, spec | {"predictions": NO_PLAN})
    curves = pd.DataFrame(out["curves"])
    assert set(curves["category"]) == {0, 1, 2, 3}
    fig = prediction_figures(out)["predicted_categories"]
    assert len(fig.axes) == 2


def test_plan_slice_and_schema():
    import yaml

    from mlmpipe.plan import Plan, load_plan

    example = Path(__file__).resolve().parents[2] / "config/examples/hsb_binary.yaml"
    plan = load_plan(example)
    sl = json.loads(plan.slice_predictions())
    assert sl["model"] == "m2_level2" and sl["family"] == "binomial" and sl["nagq"] == 1
    assert sl["predictions"] == NO_PLAN
    cfg = yaml.safe_load(example.read_text())
    cfg["report"] = {"predictions": {"at": {"cses": [-1, 1]}, "clusters": [1224]}}
    assert Plan.from_config(cfg).report["predictions"]["at"] == {"cses": [-1, 1]}
    cfg["report"] = {"predictions": {"at": {"cses": 1}}}
    with pytest.raises(PlanError, match="report.predictions.at.cses"):
        Plan.from_config(cfg)
