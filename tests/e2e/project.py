"""Run the repository's Snakefile, workflow and a chosen plan in a temporary project directory."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_plan(workdir: Path, plan: str = "config/analysis.yaml", cores: int = 2) -> None:
    """Copy Snakefile, workflow/ and config/ into ``workdir``, make ``plan`` (a path relative to the
    repository) the project's analysis plan and run the whole DAG; fail with the log's tail."""
    shutil.copy2(ROOT / "Snakefile", workdir / "Snakefile")
    shutil.copytree(ROOT / "workflow", workdir / "workflow")
    shutil.copytree(ROOT / "config", workdir / "config")
    shutil.copy2(ROOT / plan, workdir / "config/analysis.yaml")
    (workdir / "data" / "raw").mkdir(parents=True)
    res = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", str(cores)],
        cwd=workdir,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
