"""``mlmpipe verify`` on a fresh clone of this repository passes: it compares what the pipeline
writes, not tracked placeholders such as ``reports/.gitkeep`` (slow: the HSB DAG runs twice)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.e2e
def test_verify_passes_on_a_fresh_clone(tmp_path):
    assert (ROOT / ".git").exists(), "the test needs the git checkout of the repository"
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    assert (clone / "reports/.gitkeep").exists()
    env = {**os.environ, "PYTHONPATH": str(clone / "src")}

    def mlmpipe(*args):
        cmd = [sys.executable, "-m", "mlmpipe.cli", *args]
        return subprocess.run(cmd, cwd=clone, env=env, capture_output=True, text=True)

    res = mlmpipe("run", "--cores", "2")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    res = mlmpipe("verify", "--cores", "2", "--no-report")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert res.stdout.startswith("reproducibility: PASSED"), res.stdout
    cert = json.loads((clone / "reports/reproducibility.json").read_text())
    assert cert["passed"] and cert["n_same"] == cert["n_compared"] > 100
    assert cert["excluded"]["reports/.gitkeep"].startswith("not written by the pipeline")
    assert "reports/.gitkeep" not in [f["path"] for f in cert["files"]]
