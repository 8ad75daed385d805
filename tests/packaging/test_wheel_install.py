"""The wheel carries the workflow: build it, install it into a fresh virtual environment (no source
tree on the path), then ``mlmpipe init --example sleepstudy`` and ``mlmpipe run`` in a new project
write the report. Slow (builds a wheel and runs a whole DAG, ~1-2 min).

The dependencies come from the running interpreter's site-packages (a ``.pth`` file in the new
venv names them, so the test needs no package index for them; a path added that way has its own
``.pth`` files, such as an editable mlmpipe's, left unprocessed), mlmpipe itself only from the wheel
(``--no-deps``), and the test checks that the mlmpipe imported is the venv's copy. Jupyter data
files (nbconvert's templates) live under the running interpreter's prefix, which the new venv's
``sys.prefix`` hides: JUPYTER_PATH names it, as a full install into the venv would have put them
there.
"""

import ast
import json
import os
import site
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
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path, env)
    py, exe = venv / "bin" / "python", venv / "bin" / "mlmpipe"
    purelib = _run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp_path, env
    ).stdout.strip()
    deps = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (Path(purelib) / "_test_dependencies.pth").write_text("\n".join(deps) + "\n")
    _run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], tmp_path, env)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    prefixes = dict.fromkeys([sys.prefix, sys.base_prefix])
    env["JUPYTER_PATH"] = os.pathsep.join(str(Path(p) / "share" / "jupyter") for p in prefixes)
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
