"""``mlmpipe run --plan FILE`` runs exactly that plan (no merging with config/analysis.yaml, whose
hypotheses name a model the other plan lacks), and the end-of-run summary."""

import os
import subprocess
import sys
import time
from pathlib import Path

from mlmpipe.cli import main
from mlmpipe.run_summary import run_summary

SRC = Path(__file__).resolve().parents[2] / "src"


def test_run_plan_uses_exactly_the_given_plan(tmp_path, capsys):
    proj = tmp_path / "proj"
    assert main(["init", str(proj), "--example", "hsb"]) == 0
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    cmd = [sys.executable, "-m", "mlmpipe.cli", "run", "--cores", "1", "-n"]
    res = subprocess.run(
        [*cmd, "--plan", "config/examples/gcsemv.yaml"],
        cwd=proj,
        env=env,
        capture_output=True,
        text=True,
    )
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert "data/raw/gcsemv.csv" in out and "hsb.csv" not in out
    assert "m4_cross" not in out  # the default plan's final model is not merged in
    missing = subprocess.run(
        [*cmd, "--plan", "config/nope.yaml"], cwd=proj, env=env, capture_output=True, text=True
    )
    assert missing.returncode == 2 and "--plan config/nope.yaml does not exist" in missing.stderr


def test_run_summary_lists_reports_time_and_warnings(tmp_path):
    start = time.time() - 75
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports/report.html").write_text("<html>")
    (tmp_path / "logs/fit").mkdir(parents=True)
    (tmp_path / "logs/fit/m1.log").write_text(
        "x.py:3: RuntimeWarning: overflow\nfine\nUserWarning: singular fit\n"
    )
    (tmp_path / "logs/validate.log").write_text("all good\n")
    old = tmp_path / "logs/old.log"
    old.write_text("DeprecationWarning: from an earlier run\n")
    os.utime(old, (start - 100, start - 100))
    text = run_summary(tmp_path, start)
    assert text.splitlines() == [
        "mlmpipe: done in 1m 15s",
        "  reports: reports/report.html",
        "  warnings: 2 in the logs of this run: logs/fit/m1.log (2)",
    ]
