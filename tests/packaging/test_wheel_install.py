"""The wheel carries the workflow: build it, install it into a fresh virtual environment (no source
tree on the path), then ``mlmpipe init --example sleepstudy`` and ``mlmpipe run`` in a new project
write the report. Slow (builds a wheel and runs a whole DAG, ~1-2 min).

The venv sees the environment's packages (``--system-site-packages``) so the test needs no index
for the dependencies, and installs mlmpipe itself from the wheel only (``--no-deps``); the test
checks that the mlmpipe imported is the venv's copy. Jupyter data files (nbconvert's templates)
live under the base interpreter's prefix, which a venv's ``sys.prefix`` hides: JUPYTER_PATH names it,
as a full install into the venv would have put them there.
"""

import ast
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(cmd, cwd, env, timeout=900):
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, (cmd, res.stdout[-3000:], res.stderr[-3000:])
    return res


@pytest.mark.slow
@pytest.mark.e2e
def test_wheel_install_runs_the_packaged_workflow(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    wheels = tmp_path / "wheels"
    _run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w", str(wheels)],
        tmp_path,
        env,
    )
    (wheel,) = wheels.glob("mlmpipe-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for shipped in (
        "Snakefile",
        "workflow/rules/report.smk",
        "workflow/notebooks/report.ipynb",
        "workflow/scripts/fit.py",
        "config/profiles/slurm/config.yaml",
        "config/schema/analysis.schema.yaml",
        "config/examples/sleepstudy.yaml",
    ):
        assert f"mlmpipe/_workflow/{shipped}" in names, shipped
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], tmp_path, env)
    py, exe = venv / "bin" / "python", venv / "bin" / "mlmpipe"
    _run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], tmp_path, env)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["JUPYTER_PATH"] = str(Path(sys.base_prefix) / "share" / "jupyter")
    where = _run([str(py), "-c", "import mlmpipe; print(mlmpipe.__file__)"], tmp_path, env)
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout  # not the checkout
    version = _run([str(exe), "--version"], tmp_path, env).stdout.strip()
    assert version.startswith("mlmpipe ")

    _run([str(exe), "init", "proj", "--example", "sleepstudy"], tmp_path, env)
    proj = tmp_path / "proj"
    assert (proj / "Snakefile").exists() and (proj / "workflow/rules/models.smk").exists()
    res = _run([str(exe), "run", "--cores", "2"], proj, env)
    assert (proj / "reports/report.html").stat().st_size > 10_000
    assert "mlmpipe: done in" in res.stdout and "reports/report.html" in res.stdout
    prov = json.loads((proj / "reports/provenance.json").read_text())
    assert prov["mlmpipe_version"] == version.split()[1]
    # the rules' code dependencies are the installed package's files
    code = (
        "from mlmpipe import codedeps; print(codedeps.code_files('mlmpipe.steps.models:fit_step'))"
    )
    files = ast.literal_eval(_run([str(py), "-c", code], proj, env).stdout)
    assert files and all(Path(f).is_relative_to(venv) for f in files), files[:3]
