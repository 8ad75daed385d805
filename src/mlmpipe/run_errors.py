"""Errors and warnings of a pipeline run on the terminal, one line each.

A rule's script sends its stderr to ``logs/<rule>.log``, so the one-line message of an
:class:`~mlmpipe.errors.MlmpipeError` ends up as the last line of a Python traceback in that log,
and Snakemake's terminal says only "check log file(s) for error details". This module reads
Snakemake's own log of the run (``.snakemake/log/*.snakemake.log``) for the failed jobs and their
log files, takes the error line out of each log and prints ``mlmpipe: <rule>: <message> (log:
<path>)``. The tracebacks stay in the logs.

Two callers: ``mlmpipe run`` after Snakemake has failed (:func:`report_failed_run`), and the
Snakefile's ``onerror:`` handler when Snakemake is run directly (:func:`onerror`). ``mlmpipe run``
sets :data:`RELAY_ENV` so that the handler leaves the printing to it (the lines then come last,
after Snakemake's closing messages). Warnings that a rule wants on the terminal (a suspected
missing-value code, an unresolved singular fit) go through :func:`announce`.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path

#: Set by ``mlmpipe run`` for its Snakemake process: the ``onerror`` handler then prints nothing.
RELAY_ENV = "MLMPIPE_RELAY"
#: Where Snakemake keeps the log of every run, relative to the working directory.
SNAKEMAKE_LOGS = Path(".snakemake") / "log"

_ERROR_IN_RULE = re.compile(r"^Error in rule (\S+?):\s*$")
_LOG_LINE = re.compile(r"^\s+log: (.*?)(?: \(check log file\(s\) for error details\))?\s*$")
# the last line of a traceback: ``package.module.ClassName: message`` (or a bare class name)
_EXC_LINE = re.compile(
    r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)\w*)(?:: (.*))?$"
)
_MLMPIPE_EXC = re.compile(r"^mlmpipe\.errors\.\w+$")


def error_line(log_text: str) -> str | None:
    """The one-line error of a rule's log: the message of the last exception in it.

    An :class:`~mlmpipe.errors.MlmpipeError` gives its message as is; any other exception gives
    ``ClassName: message`` (an unexpected failure: the traceback in the log says where). Without a
    traceback, the log's last non-empty line; None for an empty log.
    """
    lines = [ln.rstrip() for ln in log_text.splitlines()]
    tb = [i for i, ln in enumerate(lines) if ln.startswith("Traceback (most recent call last)")]
    if tb:
        for ln in lines[tb[-1] + 1 :]:
            if not ln or ln[0].isspace():
                continue
            m = _EXC_LINE.match(ln)
            if m:
                cls, msg = m.group(1), (m.group(2) or "").strip()
                if _MLMPIPE_EXC.match(cls) or cls in ("SystemExit",):
                    return msg or cls.rsplit(".", 1)[-1]
                name = cls.rsplit(".", 1)[-1]
                return f"unexpected {name}: {msg}" if msg else f"unexpected {name}"
    rest = [ln.strip() for ln in lines if ln.strip()]
    return rest[-1] if rest else None


def failed_jobs(snakemake_log: str) -> list[tuple[str, list[str]]]:
    """``(rule, log files)`` of every job that failed, in the order of Snakemake's log."""
    out: list[tuple[str, list[str]]] = []
    rule: str | None = None
    for ln in snakemake_log.splitlines():
        m = _ERROR_IN_RULE.match(ln)
        if m:
            if rule is not None:
                out.append((rule, []))
            rule = m.group(1)
            continue
        if rule is None:
            continue
        m = _LOG_LINE.match(ln)
        if m:
            out.append((rule, [p.strip() for p in m.group(1).split(",") if p.strip()]))
            rule = None
        elif not ln.startswith(" "):  # end of the job block without a log line
            out.append((rule, []))
            rule = None
    if rule is not None:
        out.append((rule, []))
    return out


def failure_lines(snakemake_log: str | Path, root: str | Path = ".") -> list[str]:
    """``mlmpipe: <rule>: <message> (log: <path>)`` for each failed job of a Snakemake run."""
    text = Path(snakemake_log).read_text(encoding="utf-8", errors="replace")
    out: list[str] = []
    for rule, logs in failed_jobs(text):
        if not logs:
            out.append(f"mlmpipe: {rule}: failed (the job has no log file; see {snakemake_log})")
            continue
        for log in logs:
            path = Path(root) / log
            msg = None
            if path.exists():
                msg = error_line(path.read_text(encoding="utf-8", errors="replace"))
            line = f"mlmpipe: {rule}: {msg or 'failed without a message'} (log: {log})"
            if line not in out:
                out.append(line)
    return out


def latest_snakemake_log(root: str | Path = ".", since: float | None = None) -> Path | None:
    """The newest Snakemake run log in ``root`` (modified at or after ``since``, if given)."""
    d = Path(root) / SNAKEMAKE_LOGS
    logs = sorted(d.glob("*.snakemake.log"), key=lambda p: p.stat().st_mtime) if d.is_dir() else []
    if not logs or (since is not None and logs[-1].stat().st_mtime < since):
        return None
    return logs[-1]


def report_failed_run(since: float | None = None, root: str | Path = ".", file=None) -> list[str]:
    """After Snakemake failed: print the failing jobs' one-line errors and return them.

    ``since``: the run's start (epoch seconds), so that the log of an earlier run is never
    reported. A run that stopped before any job (an invalid plan, a missing input) has printed its
    own one-line reason (the Snakefile's plan check): nothing is added then.
    """
    root = Path(root)
    log = latest_snakemake_log(root, since)
    lines = failure_lines(log, root) if log is not None else []
    for ln in lines:
        print(ln, file=file or sys.stderr, flush=True)
    return lines


def onerror(log: str | Path | Iterable[str | Path], root: str | Path = ".") -> list[str]:
    """The Snakefile's ``onerror:`` handler: print the one-line errors of the failed jobs (unless
    ``mlmpipe run`` is the caller and prints them itself). ``log``: Snakemake's ``log`` variable
    (one path, or a list of paths in Snakemake 9)."""
    logs = [log] if isinstance(log, str | Path) else list(log)
    lines: list[str] = []
    for lg in logs:
        if Path(lg).exists():
            lines += [ln for ln in failure_lines(lg, root) if ln not in lines]
    if not os.environ.get(RELAY_ENV):
        for ln in lines:
            print(ln, file=sys.stderr, flush=True)
    return lines


def announce(message: str, log=None) -> str:
    """Print ``mlmpipe: warning: <message>`` on the terminal from inside a rule's script (whose
    ``sys.stderr`` is its log file) and into the log; returns the line."""
    line = f"mlmpipe: warning: {message}"
    print(line, file=sys.__stderr__, flush=True)
    target = log if log is not None else sys.stderr
    if target is not sys.__stderr__:
        print(line, file=target, flush=True)
    return line
