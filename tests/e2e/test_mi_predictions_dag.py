"""Under multiple imputation the GLMM predictions rule reads every completed data set (dry run of
the binary example plan with ``missing.method: multiple_imputation``). Slow: ~5 s CPU, but DAG
building is ~50 s wall on a loaded machine."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import yaml

from tests.e2e.project import ROOT


@pytest.mark.slow
@pytest.mark.e2e
def test_predictions_rule_reads_every_imputation(tmp_path):
    shutil.copy2(ROOT / "Snakefile", tmp_path / "Snakefile")
    shutil.copytree(ROOT / "workflow", tmp_path / "workflow")
    shutil.copytree(ROOT / "config", tmp_path / "config")
    (tmp_path / "data" / "raw").mkdir(parents=True)
    plan = yaml.safe_load((ROOT / "config/examples/hsb_binary.yaml").read_text())
    plan["missing"] = {"method": "multiple_imputation", "m": 3}
    (tmp_path / "config/analysis.yaml").write_text(yaml.safe_dump(plan))
    res = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "reports/predictions.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    block = res.stdout.split("rule predictions:", 1)[1].split("output:", 1)[0]
    for m in (1, 2, 3):
        assert f"data/processed/imp{m}.parquet" in block
    assert "data/processed/imp0.parquet" not in block
