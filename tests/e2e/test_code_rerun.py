"""Editing a library module reruns exactly the rules whose library function runs it.

The project runs a copy of src/mlmpipe (PYTHONPATH), so a test can edit the library. The fast
test fakes every output of the sleepstudy plan and records them with ``snakemake --touch`` (no job
runs); the slow one runs most of the DAG for real (Snakemake then records input checksums) with
every script traced, and checks that each library function that ran lies in its rule's closure.
After an edit, ``snakemake -n --rerun-triggers code`` must list exactly the jobs of the rules
whose code closure (mlmpipe.codedeps) holds the edited file and of the rules downstream of them.
Snakemake prints one reason per job: a downstream job of an outdated job reads "Input files
updated by another job" even when its own code changed too, so the job set is what is compared.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlmpipe import codedeps
from tests.test_codedeps import rule_code

ROOT = Path(__file__).resolve().parents[2]


def project(tmp_path: Path) -> tuple[Path, dict, Path]:
    """A sleepstudy project and the environment that imports the library copy."""
    lib = tmp_path / "src" / "mlmpipe"
    shutil.copytree(ROOT / "src" / "mlmpipe", lib, ignore=shutil.ignore_patterns("__pycache__"))
    proj = tmp_path / "proj"
    proj.mkdir()
    shutil.copy2(ROOT / "Snakefile", proj / "Snakefile")
    shutil.copytree(ROOT / "workflow", proj / "workflow")
    shutil.copytree(ROOT / "config", proj / "config")
    shutil.copy2(ROOT / "config/examples/sleepstudy.yaml", proj / "config/analysis.yaml")
    (proj / "data" / "raw").mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src")}
    return proj, env, lib


def snakemake(proj: Path, env: dict, *args: str) -> str:
    res = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "1", *args],
        cwd=proj,
        env=env,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res.stdout + res.stderr


def planned_jobs(out: str) -> list[tuple[str, str]]:
    """(rule, reason) of every job a dry run lists."""
    jobs = re.findall(r"(?m)^rule (\w+):\n((?:[ \t]+.*\n)*)", out)
    return [(rule, re.search(r"reason: (.*)", body).group(1)) for rule, body in jobs]


def closure(targets: list[str], lib: Path) -> set[str]:
    return {f for t in targets for f in codedeps.import_closure(t, lib.resolve())}


def rule_graph(proj: Path, env: dict, targets: list[str]) -> dict[str, set[str]]:
    """Rule -> the rules that consume its outputs, in the DAG of ``targets``."""
    dot = snakemake(proj, env, "--rulegraph", "dot", *targets)
    label = dict(re.findall(r'(?m)^\s*(\d+)\[label = "(\w+)"', dot))
    graph: dict[str, set[str]] = {name: set() for name in label.values()}
    for a, b in re.findall(r"(?m)^\s*(\d+) -> (\d+)", dot):
        graph[label[a]].add(label[b])
    return graph


def check_edit(
    proj: Path, env: dict, lib: Path, module: str, targets: list[str], graph: dict[str, set[str]]
) -> set[str]:
    """Append a comment to ``module`` of the library copy and dry-run with the code trigger: the
    rules of the jobs listed are those whose closure holds the module and those downstream of
    them, nothing else. Return the rules whose closure holds it."""
    path = lib / module
    text, stat = path.read_text(), path.stat()
    path.write_text(text + "# edited by test_code_rerun\n")
    try:
        jobs = planned_jobs(snakemake(proj, env, "-n", *targets, "--rerun-triggers", "code"))
    finally:  # the original content and mtime: the next edit is seen alone
        path.write_text(text)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    expect = {
        rule
        for rule, (t, _) in rule_code().items()
        if rule in graph and str(path.resolve()) in closure(t, lib)
    }
    downstream, stack = set(expect), list(expect)
    while stack:
        for nxt in graph[stack.pop()] - downstream:
            downstream.add(nxt)
            stack.append(nxt)
    listed = {rule for rule, _ in jobs}
    assert listed == downstream, (module, listed ^ downstream)
    for rule, why in jobs:  # a rule of the closure is outdated by its own inputs or upstream
        if rule in expect and why.startswith("Updated input files"):
            assert str(path) in why, (rule, why)
    return expect


@pytest.mark.e2e
def test_editing_a_module_reruns_exactly_the_rules_that_run_it(tmp_path):
    proj, env, lib = project(tmp_path)
    outputs = set()
    for line in re.findall(r"(?m)^\s+output: (.*)$", snakemake(proj, env, "-n")):
        outputs.update(o.strip() for o in line.split(","))
    for out in sorted(outputs):  # fakes: directory() outputs of this workflow have no suffix
        p = proj / out
        if p.suffix:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.touch()
        else:
            p.mkdir(parents=True, exist_ok=True)
    snakemake(proj, env, "--touch")
    assert "Nothing to be done" in snakemake(proj, env, "-n", "--rerun-triggers", "code")

    graph = rule_graph(proj, env, [])
    assert check_edit(proj, env, lib, "report/apa.py", [], graph) == {"apa_tables"}
    engine = check_edit(proj, env, lib, "engine/lmm.py", [], graph)
    assert {"missing", "fit", "effects", "diagnose", "interactions", "profile_ci"} <= engine
    assert not {"apa_tables", "compare", "pool", "report", "validate"} & engine
    assert check_edit(proj, env, lib, "missing/pool.py", [], graph) == {"pool", "compare"}


TRACER = """
import atexit, os, sys, threading

_LIB, _OUT = os.environ.get("CODEDEPS_TRACE_LIB"), os.environ.get("CODEDEPS_TRACE_DIR")
_COMPREHENSIONS = {"<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>", "<lambda>"}
if _LIB and _OUT and ".snakemake/scripts/" in (sys.argv[0] if sys.argv else ""):
    _seen = set()

    def _profile(frame, event, arg):
        code = frame.f_code
        if event != "call" or not code.co_filename.startswith(_LIB) or not code.co_flags & 1:
            return  # co_flags & 1 (CO_OPTIMIZED): a function, not a module or class body
        back = frame.f_back
        if code.co_name in _COMPREHENSIONS and back is not None and not back.f_code.co_flags & 1:
            return  # a comprehension of import-time code
        _seen.add(code.co_filename)

    def _dump():
        name = os.path.basename(sys.argv[0]).split(".", 1)[1]  # tmpXXXX.fit.py -> fit.py
        with open(os.path.join(_OUT, f"{name}.{os.getpid()}"), "w") as fh:
            fh.write("\\n".join(sorted(_seen)))

    sys.setprofile(_profile)
    threading.setprofile(_profile)
    atexit.register(_dump)
"""


@pytest.mark.e2e
@pytest.mark.slow
def test_after_a_real_run_an_edit_reruns_and_a_bare_touch_does_not(tmp_path):
    """A real run of most of the DAG, every script traced: each library function that ran lies
    in its rule's closure (the closure is sound). Then the code trigger with recorded checksums."""
    proj, env, lib = project(tmp_path)
    traces = tmp_path / "traces"
    traces.mkdir()
    (tmp_path / "src" / "sitecustomize.py").write_text(TRACER)
    targets = [
        "reports/tables/apa_models.html",
        "reports/diagnostics/residuals.json",
        "reports/interactions.json",
        "reports/profile_ci.json",
        "reports/figures/model",
        "reports/figures/results",
        "reports/decisions.json",
        "reports/deviations.json",
        "reports/provenance.json",
    ]
    traced = {**env, "CODEDEPS_TRACE_LIB": str(lib.resolve()), "CODEDEPS_TRACE_DIR": str(traces)}
    snakemake(proj, traced, *targets)
    checked = set()
    for trace in traces.iterdir():  # one per script run; fetch_example has no code input
        script = trace.name.rsplit(".", 1)[0]
        deps = closure(codedeps.script_targets(ROOT / "workflow/scripts" / script, lib), lib)
        ran = set(filter(None, trace.read_text().splitlines()))
        assert ran <= deps, (script, ran - deps)
        checked.add(script)
    assert {"fit.py", "effects.py", "compare.py", "apa_tables.py", "diagnose.py"} <= checked

    assert "Nothing to be done" in snakemake(proj, env, "-n", *targets, "--rerun-triggers", "code")
    os.utime(lib / "engine/lmm.py")  # newer mtime, same content: the recorded checksum matches
    assert "Nothing to be done" in snakemake(proj, env, "-n", *targets, "--rerun-triggers", "code")
    graph = rule_graph(proj, env, targets)
    assert check_edit(proj, env, lib, "missing/pool.py", targets, graph) == {"pool", "compare"}
    assert check_edit(proj, env, lib, "engine/lmm.py", targets, graph) >= {"fit", "effects"}
    assert check_edit(proj, env, lib, "report/apa.py", targets, graph) == {"apa_tables"}
