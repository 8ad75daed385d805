"""The preregistration lifecycle end to end on the HSB example (slow: the DAG runs three times).

freeze -> run -> verify passes -> a tampered artifact fails the comparison -> a justified change
reruns and the report shows the deviation, the decision log and the certificate.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlmpipe.cli import main
from mlmpipe.prereg.verify import compare_trees, verify

ROOT = Path(__file__).resolve().parents[2]


def snakemake(workdir):
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2"]
    res = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.e2e
def test_freeze_run_verify_tamper_and_justified_deviation(tmp_path, monkeypatch):
    d = tmp_path / "hsb"
    d.mkdir()
    for name in ("Snakefile", "workflow", "config"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, d / name)
    (d / "data" / "raw").mkdir(parents=True)
    monkeypatch.chdir(d)
    assert main(["prereg", "freeze"]) == 0
    snakemake(d)
    dev = json.loads((d / "reports/deviations.json").read_text())
    assert dev["frozen"] and dev["n_deviations"] == 0

    cert = verify(d, cores=2, keep=tmp_path / "rerun")
    assert cert["passed"], [f for f in cert["files"] if f["status"] != "same"]
    assert cert["same_plan"] and cert["same_data"] and cert["n_compared"] > 20
    assert json.loads((d / "reports/reproducibility.json").read_text())["passed"]

    fit = d / "reports/fits/m0_null/reml/imp0.json"
    text = fit.read_text()
    obj = json.loads(text)
    obj["fixed"][0]["estimate"] *= 1 + 1e-6
    fit.write_text(json.dumps(obj, indent=1))
    bad = compare_trees(d, tmp_path / "rerun")
    assert not bad["passed"]
    assert [f["path"] for f in bad["files"] if f["status"] != "same"] == [
        "reports/fits/m0_null/reml/imp0.json"
    ]
    fit.write_text(text)

    plan = d / "config/analysis.yaml"
    plan.write_text(
        plan.read_text().replace(
            "disclim: {type: continuous, centering: grand}",
            "disclim: {type: continuous, centering: none}",
        )
        + '\ndeviations:\n  levels.school.predictors.disclim.centering: "disclim is not modelled"\n'
    )
    assert main(["prereg", "diff"]) == 0
    snakemake(d)
    dev = json.loads((d / "reports/deviations.json").read_text())
    assert [x["key"] for x in dev["deviations"]] == ["levels.school.predictors.disclim.centering"]
    assert dev["n_unexplained"] == 0
    html = (d / "reports/report.html").read_text()
    for heading in (
        "Deviations from the preregistered plan",
        "Estimation decision log",
        "Reproducibility certificate",
        "disclim is not modelled",
        "Stale",  # the certificate was made for the plan before the change
    ):
        assert heading in html, heading
