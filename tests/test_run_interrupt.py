"""``mlmpipe run`` on a tiny Snakemake project: Ctrl-C, SIGKILL, stale locks, --unlock, raw guard.

The project's Snakefile chains four jobs that write half their output, sleep and finish it, so an
interruption leaves an incomplete output behind. Each run is a real ``mlmpipe run`` subprocess in
its own session (a terminal's Ctrl-C reaches its foreground process group: here mlmpipe alone,
since it runs Snakemake in a group of its own). The full pipeline is interrupted in
tests/e2e/test_interrupt_e2e.py (slow).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlmpipe.prereg.verify import compare_trees
from mlmpipe.runlock import has_lock, live_processes

ROOT = Path(__file__).resolve().parents[1]
SNAKEFILE = """
rule all:
    input: "reports/step3.txt"

rule step:
    input: lambda w: [f"reports/step{int(w.i) - 1}.txt"] if int(w.i) else []
    output: "reports/step{i}.txt"
    shell: "python -c \\"import sys, time; f = open(sys.argv[1], 'w'); f.write('half '); f.flush(); time.sleep({SLEEP}); f.write('step {wildcards.i}')\\" {output}"
"""
READERS = """
rule validate:
    input: "data/raw/d.csv"
    output: "reports/checks.json"
    shell: "sha256sum {input} > {output}"

rule provenance:
    input: "data/raw/d.csv"
    output: "reports/provenance.json"
    shell: "printf '{{\\"raw_sha256\\": \\"%s\\"}}' $(sha256sum {input} | cut -c1-64) > {output}"

rule deviations:
    output: "reports/deviations.json"
    shell: "echo '{{}}' > {output}"
"""


def project(path: Path, sleep: float = 1.0, readers: bool = False) -> Path:
    path.mkdir()
    text = SNAKEFILE.replace("{SLEEP}", str(sleep))
    if readers:
        text = text.replace(
            'input: "reports/step3.txt"',
            'input: "reports/step3.txt", "reports/checks.json", "reports/provenance.json", "reports/deviations.json"',
        )
        text += READERS
    (path / "Snakefile").write_text(text)
    (path / "reports").mkdir()
    return path


def env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a shell's background job ignores it


def start(d: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mlmpipe.cli", "run", "--cores", "1", *args],
        cwd=d,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=_default_sigint,
    )


def run(d: Path, *args: str) -> tuple[int, str]:
    p = start(d, *args)
    out, _ = p.communicate(timeout=120)
    return p.returncode, out


def wait_for(cond, timeout: float = 60.0) -> None:
    t0 = time.monotonic()
    while not cond():
        assert time.monotonic() - t0 < timeout, "timed out"
        time.sleep(0.05)


def interrupt_during_step1(d: Path, how: str) -> tuple[subprocess.Popen, str]:
    """Start a run, wait until step 1 has half-written its output, then interrupt it."""
    p = start(d)
    wait_for(lambda: (d / "reports/step1.txt").exists())
    if how == "ctrl-c":  # what the terminal does: SIGINT to the foreground process group
        os.killpg(p.pid, signal.SIGINT)
    elif how == "kill-mlmpipe":
        os.kill(p.pid, signal.SIGKILL)
    else:  # SIGKILL of everything (OOM killer, power cut): nothing can clean up
        groups = [x.pid for x in live_processes(d) if x.kind == "snakemake"]
        assert groups, "no Snakemake process found"
        os.kill(p.pid, signal.SIGKILL)
        for pgid in groups:  # Snakemake leads the process group of its jobs
            os.killpg(pgid, signal.SIGKILL)
    out, _ = p.communicate(timeout=60)
    return p, out


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    d = project(tmp_path_factory.mktemp("ref") / "p")
    rc, out = run(d)
    assert rc == 0, out
    return d


def test_ctrl_c_is_passed_to_snakemake_and_waited_for_without_traceback(tmp_path, reference):
    d = project(tmp_path / "p")
    p, out = interrupt_during_step1(d, "ctrl-c")
    assert p.returncode == 130, out
    assert "Traceback" not in out and "KeyboardInterrupt" not in out, out
    assert "mlmpipe: interrupted; stopping Snakemake" in out
    assert "run 'mlmpipe run' again to resume" in out.splitlines()[-1]
    assert not has_lock(d) and live_processes(d) == []  # Snakemake and its job ended, unlocked
    assert (d / "reports/step0.txt").read_text() == "half step 0"  # finished steps are kept
    rc, out = run(d)
    assert rc == 0, out
    assert "stale" not in out
    res = compare_trees(reference, d, outputs=[f"reports/step{i}.txt" for i in range(4)])
    assert res["passed"] and res["n_compared"] == 4, res


def test_sigkill_of_everything_leaves_a_stale_lock_that_the_next_run_removes(tmp_path, reference):
    d = project(tmp_path / "p")
    interrupt_during_step1(d, "kill-all")
    wait_for(lambda: live_processes(d) == [], timeout=10)
    assert has_lock(d) and (d / "reports/step1.txt").read_text() == "half "
    rc, out = run(d)
    assert rc == 0, out
    stale = [x for x in out.splitlines() if "stale" in x]
    assert stale == [
        "mlmpipe: removed the stale Snakemake lock of an interrupted run (no Snakemake process is "
        "alive in this directory); its incomplete jobs are rerun"
    ]
    assert (d / "reports/step1.txt").read_text() == "half step 1"  # the incomplete job reran
    res = compare_trees(reference, d, outputs=[f"reports/step{i}.txt" for i in range(4)])
    assert res["passed"] and res["n_compared"] == 4, res


def test_sigkill_of_mlmpipe_stops_snakemake_which_releases_its_lock(tmp_path, reference):
    d = project(tmp_path / "p")
    interrupt_during_step1(d, "kill-mlmpipe")
    wait_for(lambda: live_processes(d) == [], timeout=30)  # SIGTERM by the kernel: graceful stop
    assert not has_lock(d)
    rc, out = run(d)
    assert rc == 0, out
    assert compare_trees(reference, d, outputs=[f"reports/step{i}.txt" for i in range(4)])["passed"]


def test_a_live_run_is_not_unlocked_and_unlock_and_snakemake_options_work(tmp_path):
    d = project(tmp_path / "p", sleep=2.0)
    p = start(d)
    wait_for(lambda: (d / "reports/step0.txt").exists())
    for args in ([], ["--unlock"]):
        rc, out = run(d, *args)
        assert rc == 2 and "is still active in" in out and out.count("\n") == 1, out
    os.killpg(p.pid, signal.SIGINT)
    p.communicate(timeout=60)

    (d / ".snakemake/locks").mkdir(parents=True, exist_ok=True)
    (d / ".snakemake/locks/0.input.lock").write_text(str(d / "reports/step0.txt"))
    rc, out = run(d, "--unlock")
    assert rc == 0 and f"mlmpipe: unlocked {d}" in out and not has_lock(d), out
    rc, out = run(d, "--", "reports/step0.txt", "--forceall", "-n")  # options after --
    assert rc == 0 and "rule step:" in out and "step1" not in out, out
    rc, out = run(d, "--forcerun", "step", "-n")  # an option mlmpipe does not know: passed on
    assert rc == 0 and out.count("rule step:") == 4, out


def test_run_help_documents_unlock_and_the_options_after_double_dash():
    res = subprocess.run(
        [sys.executable, "-m", "mlmpipe.cli", "run", "--help"],
        env=env(),
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0
    text = " ".join(res.stdout.split())
    assert "--unlock" in text and "mlmpipe run -- --forceall" in text and "stale lock" in text
