"""Snakemake runs that survive interruption: stale-lock detection and signal forwarding.

Snakemake locks a working directory while it runs (``.snakemake/locks/``) and marks the outputs of
running jobs incomplete (``.snakemake/incomplete/``). A run that dies without cleaning up -- killed
with SIGKILL, out of memory, a power cut, or (before this module) a Python parent that killed it on
Ctrl-C -- leaves both behind, and the next run stops with ``LockException``. A lock is *stale* when
no Snakemake process (scheduler or job script) is alive for the directory; :func:`live_processes`
finds them in ``/proc`` (Linux; elsewhere the answer is unknown and no lock is removed).

:func:`run_forwarding` runs Snakemake in its own process group, so that Ctrl-C on the terminal
reaches ``mlmpipe`` alone: the first SIGINT (or SIGTERM, SIGHUP) is passed to Snakemake as SIGINT,
its running jobs get SIGTERM (they end without a Python traceback), and Snakemake is waited for
while it removes the partial outputs and its lock. A second signal kills the whole group. When
``mlmpipe`` itself is killed (SIGKILL), the kernel sends Snakemake SIGTERM (``PR_SET_PDEATHSIG``):
it finishes the running jobs and exits, releasing its lock.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

LOCK_DIR = Path(".snakemake") / "locks"
PROC = Path("/proc")
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class LiveProcess:
    """A process working in the directory: the Snakemake scheduler or one of its job scripts."""

    pid: int
    kind: str  # "snakemake" or "job"
    command: str


def has_lock(directory: str | Path = ".") -> bool:
    """True when Snakemake's lock files exist in ``directory``."""
    d = Path(directory) / LOCK_DIR
    return d.is_dir() and any(d.glob("*.lock"))


def _kind(argv: list[str]) -> str | None:
    if any("/.snakemake/scripts/" in a for a in argv):
        return "job"
    head = [Path(a).name for a in argv[:2]]
    if "snakemake" in head or any(
        a == "-m" and b == "snakemake" for a, b in zip(argv, argv[1:], strict=False)
    ):
        return "snakemake"
    return None


def _workdir(argv: list[str], cwd: Path) -> Path:
    """Snakemake's working directory: ``--directory``/``-d`` when given, else the process's cwd."""
    for i, a in enumerate(argv):
        if a in ("--directory", "-d") and i + 1 < len(argv):
            return (cwd / argv[i + 1]).resolve()
        if a.startswith("--directory="):
            return (cwd / a.split("=", 1)[1]).resolve()
    return cwd.resolve()


def live_processes(directory: str | Path = ".") -> list[LiveProcess] | None:
    """Snakemake processes alive for ``directory`` (None: cannot tell, no ``/proc``)."""
    if not PROC.is_dir():
        return None
    target = Path(directory).resolve()
    out = []
    for p in PROC.iterdir():
        if not p.name.isdigit() or int(p.name) == os.getpid():
            continue
        try:
            raw = (p / "cmdline").read_bytes()
            cwd = Path(os.readlink(p / "cwd"))
        except OSError:  # gone, or not ours to read
            continue
        argv = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
        kind = _kind(argv)
        if kind and _workdir(argv, cwd) == target:
            out.append(LiveProcess(int(p.name), kind, " ".join(argv)[:120]))
    return sorted(out, key=lambda x: x.pid)


def _group_members(pgid: int) -> list[int]:
    """Processes of process group ``pgid`` (from ``/proc/<pid>/stat``)."""
    out = []
    for p in PROC.iterdir():
        if not p.name.isdigit():
            continue
        try:
            stat = (p / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state ppid pgrp
        if int(fields[2]) == pgid:
            out.append(int(p.name))
    return out


def _die_with_parent_preexec():
    """``preexec_fn``: own process group, and SIGTERM when the parent dies (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        libc = None

    def preexec() -> None:
        os.setpgid(0, 0)
        if libc is not None and sys.platform.startswith("linux"):
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    return preexec


@dataclass
class RunResult:
    """How a forwarded run ended: exit code and the signals ``mlmpipe`` received."""

    returncode: int
    signals: list[int]

    @property
    def interrupted(self) -> bool:
        return bool(self.signals)


def stop_jobs(pgid: int, leader: int) -> None:
    """SIGTERM to every process of the group but its leader (the Snakemake scheduler)."""
    members = _group_members(pgid) if PROC.is_dir() else None
    if members is None:
        os.killpg(pgid, signal.SIGTERM)  # no /proc: the scheduler gets it too (a graceful stop)
        return
    for pid in members:
        if pid != leader:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


def run_forwarding(cmd: list[str], say=print, settle: float = 0.5) -> RunResult:
    """Run ``cmd`` (Snakemake) in its own process group, forward interruptions and wait for it.

    First SIGINT/SIGTERM/SIGHUP: SIGINT to Snakemake, then (after ``settle`` seconds, so that its
    scheduler is already cancelling) SIGTERM to its running jobs. Second one: SIGKILL to the group.
    """
    got: list[int] = []
    previous = {s: signal.getsignal(s) for s in FORWARDED}

    def note(signum, _frame) -> None:
        got.append(signum)

    for s in FORWARDED:
        signal.signal(s, note)
    handled = 0
    try:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent_preexec()
        )
        while True:
            try:
                rc = proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                pass
            if len(got) > handled:
                handled = len(got)
                if handled == 1:
                    say(
                        "mlmpipe: interrupted; stopping Snakemake and its running jobs "
                        "(press Ctrl-C again to kill them at once)"
                    )
                    proc.send_signal(signal.SIGINT)
                    time.sleep(settle)
                    stop_jobs(proc.pid, proc.pid)
                else:
                    say("mlmpipe: killing Snakemake and its jobs")
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        if got:  # a job that outlived the scheduler must not keep writing outputs
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    return RunResult(rc, got)
