"""Integrity of the raw data around a run: its SHA-256 before and after, and read-only raw files.

The raw file (``data/raw/<data.file>``) is the one input every artifact derives from. ``mlmpipe
run`` hashes it before Snakemake starts and again after it ends: a file that changed while the
pipeline read it leaves artifacts that may mix two versions of the data, so the run fails. Before
the run the hash is also compared with the one the last run recorded (``reports/provenance.json``):
data swapped since then rerun every rule that reads the raw file, even when the new file carries
an older modification time (which Snakemake alone would not notice).
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from mlmpipe.errors import MlmpipeError
from mlmpipe.paths import PROVENANCE
from mlmpipe.provenance import sha256_file

#: The rules that read the raw file (everything else derives from their outputs).
RAW_READERS = ("validate", "provenance", "deviations")


def make_read_only(path: str | Path) -> None:
    """Clear every write bit of ``path`` (raw data are never modified by the pipeline)."""
    mode = os.stat(path).st_mode
    os.chmod(path, mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def recorded_raw_sha256(root: str | Path = ".") -> str | None:
    """The raw file's SHA-256 recorded by the last run's provenance (None: no run yet)."""
    p = Path(root) / PROVENANCE
    try:
        return json.loads(p.read_text(encoding="utf-8")).get("raw_sha256")
    except (OSError, ValueError):
        return None


@dataclass
class RawGuard:
    """The raw file's hash at the start of a run; :meth:`check_after` compares it at the end."""

    path: Path
    before: str | None

    @classmethod
    def start(cls, path: str | Path) -> RawGuard:
        path = Path(path)
        return cls(path, sha256_file(path) if path.is_file() else None)

    def changed_since_last_run(self, root: str | Path = ".") -> str | None:
        """The hash the last run recorded, when it differs from the file now (else None)."""
        last = recorded_raw_sha256(root)
        return last if self.before and last and last != self.before else None

    def check_after(self) -> str | None:
        """Raise when the file changed (or vanished) during the run; return its hash now."""
        now = sha256_file(self.path) if self.path.is_file() else None
        if self.before is not None and now != self.before:
            after = f"{now[:12]}..." if now else "deleted"
            raise MlmpipeError(
                f"mlmpipe run: {self.path} changed during the run (SHA-256 {self.before[:12]}... "
                f"before, {after} after): the artifacts may mix two versions of the data; "
                "restore the file and run again"
            )
        return now
