"""The binary-outcome example plan (config/examples/hsb_binary.yaml) through the whole DAG:
multilevel logistic models (Laplace), latent-scale ICC, LRTs and the report. Slow (~2-5 min)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.e2e
def test_binary_example_plan_runs_end_to_end(tmp_path):
    shutil.copy2(ROOT / "Snakefile", tmp_path / "Snakefile")
    shutil.copytree(ROOT / "workflow", tmp_path / "workflow")
    shutil.copytree(ROOT / "config", tmp_path / "config")
    shutil.copy2(ROOT / "config/examples/hsb_binary.yaml", tmp_path / "config/analysis.yaml")
    (tmp_path / "data" / "raw").mkdir(parents=True)
    res = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
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
