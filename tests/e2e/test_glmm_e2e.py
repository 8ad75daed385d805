"""The binary-outcome example plan (config/examples/hsb_binary.yaml) through the whole DAG:
multilevel logistic models (Laplace), latent-scale ICC, LRTs and the report. Slow (~2-5 min)."""

import json

import numpy as np
import pytest

from tests.e2e.project import run_plan


@pytest.mark.slow
@pytest.mark.e2e
def test_binary_example_plan_runs_end_to_end(tmp_path):
    run_plan(tmp_path, "config/examples/hsb_binary.yaml")
    assert (tmp_path / "reports/report.html").stat().st_size > 10_000
    fit = json.loads((tmp_path / "reports/fits/m0_null/ml/imp0.json").read_text())
    assert fit["family"] == "binomial" and fit["link"] == "logit"
    var = fit["random"][0]["vcov"]
    assert fit["icc"]["school"] == pytest.approx(var / (var + np.pi**2 / 3))
    comp = json.loads((tmp_path / "reports/comparison.json").read_text())
    assert comp["icc"]["values"]["school"] == pytest.approx(fit["icc"]["school"])
    last = json.loads((tmp_path / "reports/fits/m2_level2/ml/imp0.json").read_text())
    row = next(r for r in last["fixed"] if r["term"] == "sectorCatholic")
    assert row["df"] is None and row["exp_estimate"] == pytest.approx(np.exp(row["estimate"]))
    # predictions of the final model: planned grid (default), clusters, plot; the report shows
    # the odds-ratio tables, the latent-scale ICCs, the plot and the prediction tables
    pred = json.loads((tmp_path / "reports/predictions.json").read_text())
    assert pred["model"] == "m2_level2" and pred["focal"] == "cses"
    kinds = {r["kind"] for r in pred["table"]}
    assert kinds == {"conditional", "population-averaged", "cluster"}
    for ext in ("png", "svg"):
        assert (tmp_path / f"reports/figures/predictions/predicted_means.{ext}").stat().st_size
    html = (tmp_path / "reports/report.html").read_text()
    for text in ("odds ratio", "latent scale", "Predicted probabilities of m2_level2"):
        assert text in html, text
    assert "typical cluster: fit" in html and "population-averaged: fit" in html
    # level-1 diagnostics of a binary outcome: seeded randomized quantile residuals; influence by
    # GLMM refits
    diag = json.loads((tmp_path / "reports/diagnostics/residuals.json").read_text())
    assert diag["reference"] == "normal" and diag["seed"] == 20240101
    assert diag["residual_test"]["n"] == last["nobs"] and diag["modes_normality"]
    infl = json.loads((tmp_path / "reports/diagnostics/influence.json").read_text())
    assert "variance parameters" in infl["method"] and len(infl["table"]) == 160
    assert "randomized quantile" in html and "Kolmogorov-Smirnov" in html
