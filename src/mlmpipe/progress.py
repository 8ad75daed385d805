"""Progress of a long loop inside one pipeline step (imputation chains, bootstrap replicates), shown
on the terminal and kept out of the step's log.

A rule script points ``sys.stderr`` at ``logs/<rule>.log``; the bar goes to the process's original
stderr (``sys.__stderr__``: the terminal ``mlmpipe run`` was started from), and only when that is a
terminal, so logs, CI output and cluster job files get no carriage-return noise. A finished bar is
removed (``leave=False``): Snakemake's "N of M steps done" lines stay readable.
``MLMPIPE_PROGRESS=0`` turns bars off, ``=1`` forces them on (e.g. under a pager).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

from tqdm import tqdm

T = TypeVar("T")


def _enabled(stream: TextIO | None) -> bool:
    setting = os.environ.get("MLMPIPE_PROGRESS", "").strip()
    if setting in ("0", "1"):
        return setting == "1" and stream is not None
    return stream is not None and hasattr(stream, "isatty") and stream.isatty()


def progress(
    items: Iterable[T], desc: str, total: int | None = None, stream: TextIO | None = None
) -> Iterator[T]:
    """``items``, with a progress bar named ``desc`` on ``stream`` (default: the terminal)."""
    out = sys.__stderr__ if stream is None else stream
    if not _enabled(out):
        yield from items
        return
    yield from tqdm(items, desc=desc, total=total, file=out, leave=False, mininterval=1.0)
