"""The lines ``mlmpipe run`` ends a successful run with: the reports written, the time taken and
the warnings the run's steps wrote to their logs (each rule's stderr goes to ``logs/<rule>.log``,
so warnings stay out of the terminal and are counted here instead)."""

from __future__ import annotations

import re
import time
from pathlib import Path

from mlmpipe import paths

#: the documents a run produces, in the order they are listed
REPORTS = (paths.REPORT_HTML, paths.REPORT_DOCX)
#: a line a Python warning (``warnings.warn``, ``logging.warning``) starts in a log
_WARNING = re.compile(r"\b\w*Warning\b:|^WARNING\b|\bwarning:", re.IGNORECASE | re.MULTILINE)


def _duration(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 60}m {s % 60:02d}s" if s >= 60 else f"{seconds:.1f}s"


def warning_counts(project: str | Path, since: float) -> dict[str, int]:
    """Warning lines per log file written at or after ``since`` (a ``time.time()``)."""
    out = {}
    logs = Path(project) / "logs"
    for log in sorted(logs.rglob("*.log")) if logs.is_dir() else []:
        if log.stat().st_mtime >= since:
            n = len(_WARNING.findall(log.read_text(encoding="utf-8", errors="replace")))
            if n:
                out[str(log.relative_to(project))] = n
    return out


def run_summary(project: str | Path, since: float, now: float | None = None) -> str:
    """``mlmpipe: done in 1m 12s; reports: ... (updated) ...; N warnings in logs/...``."""
    project = Path(project)
    elapsed = (time.time() if now is None else now) - since
    reports = []
    for rel in REPORTS:
        f = project / rel
        if f.exists():
            reports.append(rel if f.stat().st_mtime >= since else f"{rel} (up to date)")
    counts = warning_counts(project, since)
    total = sum(counts.values())
    lines = [f"mlmpipe: done in {_duration(elapsed)}"]
    lines.append("  reports: " + (", ".join(reports) if reports else "none written"))
    if total:
        where = ", ".join(f"{k} ({v})" for k, v in counts.items())
        lines.append(f"  warnings: {total} in the logs of this run: {where}")
    else:
        lines.append("  warnings: 0")
    return "\n".join(lines)
