"""The whole pipeline interrupted mid-way (Ctrl-C, then SIGKILL of every process) and resumed with
a plain ``mlmpipe run``: the artifacts equal those of an uninterrupted run, timings excepted (slow:
the sleepstudy DAG runs three times; tests/test_run_interrupt.py checks the same on a tiny DAG)."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mlmpipe.prereg.verify import compare_trees, pipeline_outputs
from mlmpipe.runlock import has_lock, live_processes
from tests.test_run_interrupt import wait_for

ROOT = Path(__file__).resolve().parents[2]


def project(d: Path) -> Path:
    d.mkdir()
    shutil.copy2(ROOT / "Snakefile", d / "Snakefile")
    shutil.copytree(ROOT / "workflow", d / "workflow")
    shutil.copytree(ROOT / "config", d / "config")
    shutil.copy2(ROOT / "config/examples/sleepstudy.yaml", d / "config/analysis.yaml")
    (d / "data/raw").mkdir(parents=True)
    return d


def start(d: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mlmpipe.cli", "run", "--cores", "2"],
        cwd=d,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def finish(p: subprocess.Popen) -> tuple[int, str]:
    out, _ = p.communicate(timeout=1800)
    return p.returncode, out


def mid_run(d: Path) -> bool:
    """Some fits are written (the DAG is past its data steps, far from the report)."""
    return len(list((d / "reports/fits").glob("*/*/imp0.json"))) >= 2


@pytest.mark.slow
@pytest.mark.e2e
def test_interrupted_runs_resume_to_the_artifacts_of_an_uninterrupted_run(tmp_path):
    ref = project(tmp_path / "ref")
    rc, out = finish(start(ref))
    assert rc == 0, out[-3000:]
    outputs = pipeline_outputs(ref)

    d = project(tmp_path / "ctrl_c")
    p = start(d)
    wait_for(lambda: mid_run(d), timeout=900)
    os.killpg(p.pid, signal.SIGINT)  # Ctrl-C on the terminal
    rc, out = finish(p)
    assert rc == 130 and "Traceback" not in out, out[-3000:]
    assert not has_lock(d) and not (d / "reports/report.html").exists()
    rc, out = finish(start(d))
    assert rc == 0, out[-3000:]
    res = compare_trees(ref, d, outputs=outputs)
    assert res["passed"] and res["n_compared"] > 50, [
        f for f in res["files"] if f["status"] != "same"
    ]

    k = project(tmp_path / "sigkill")
    p = start(k)
    wait_for(lambda: mid_run(k), timeout=900)
    groups = [x.pid for x in live_processes(k) if x.kind == "snakemake"]
    os.kill(p.pid, signal.SIGKILL)
    for pgid in groups:
        os.killpg(pgid, signal.SIGKILL)
    p.communicate(timeout=60)
    wait_for(lambda: live_processes(k) == [], timeout=30)
    assert has_lock(k)
    rc, out = finish(start(k))
    assert rc == 0, out[-3000:]
    assert "removed the stale Snakemake lock of an interrupted run" in out
    res = compare_trees(ref, k, outputs=outputs)
    assert res["passed"] and res["n_compared"] > 50, [
        f for f in res["files"] if f["status"] != "same"
    ]
