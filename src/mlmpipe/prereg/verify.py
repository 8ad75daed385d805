"""``mlmpipe verify``: rerun the whole pipeline from the raw data and compare every artifact.

The plan, the workflow, the frozen registration and ``data/raw/`` are copied into a fresh temporary
directory, the DAG runs there from scratch, and every artifact under ``data/`` and ``reports/`` is
compared with the project's own:

- JSON: same structure and strings; numbers equal within a relative tolerance (default 1e-10);
  wall-clock values (keys in :data:`VOLATILE_KEYS`: timestamps, timings) are not compared;
- Parquet and CSV: same columns and dtypes, strings equal, numbers within the tolerance;
- NumPy arrays files (``.npz``, the arrays beside each fit record's JSON summary): same array
  names, shapes and dtypes, numbers within the tolerance (the zip members carry write times, so
  the bytes differ between runs);
- DOCX/XLSX: every part of the package identical, except the wall-clock creation and modification
  times python-docx writes into ``docProps/core.xml``;
- everything else (figures, DOCX, text): byte-identical (SHA-256);
- not compared (:data:`EXCLUDED`): the rendered report and executed notebook (they embed execution
  timestamps and kernel metadata; every number they show comes from the compared JSON artifacts),
  and the certificate itself.

Only what the pipeline writes is an artifact: the outputs of the DAG's jobs (``snakemake
--summary``; every file below a ``directory()`` output). A file under ``data/`` or ``reports/`` that
no rule writes -- a tracked placeholder such as ``reports/.gitkeep``, a file put there by hand -- is
listed as excluded, not reported "missing in the rerun".

The result is the reproducibility certificate ``reports/reproducibility.json`` that the report's
appendix shows: same plan hash, same data hash, same numbers.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlmpipe.errors import MlmpipeError

COMPARED_DIRS = ("data", "reports")
VOLATILE_KEYS = frozenset(
    {"created", "seconds", "frozen_at", "verified_at", "elapsed", "timestamp"}
)
EXCLUDED = {
    "reports/report.html": "rendered report: embeds execution time and kernel metadata",
    "reports/report.ipynb": "executed notebook: embeds execution timestamps",
    "reports/report.docx": "rendered report: embeds creation time",
    "reports/reproducibility.json": "the certificate itself",
    "data/raw/*": "the raw data are copied, not produced (their SHA-256 is compared via provenance)",
}
CERTIFICATE = "reports/reproducibility.json"
COPIED = ("Snakefile", "workflow", "config", "prereg", "data/raw")


# --------------------------------------------------------------------------- comparisons


def _num_close(a: float, b: float, rel: float) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= rel * max(abs(a), abs(b))


def compare_json(a: Any, b: Any, rel: float = 1e-10, path: str = "") -> list[str]:
    """Differences between two JSON values (numbers within ``rel``; volatile keys skipped)."""
    where = path or "<root>"
    num = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        same = type(a) is type(b) and a == b
        return [] if same else [f"{where}: {a!r} != {b!r}"]
    if isinstance(a, num) and isinstance(b, num):
        return [] if _num_close(float(a), float(b), rel) else [f"{where}: {a!r} != {b!r}"]
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if k in VOLATILE_KEYS:
                continue
            if k not in a or k not in b:
                out.append(f"{path}.{k}: only in {'the rerun' if k not in a else 'the original'}")
            else:
                out += compare_json(a[k], b[k], rel, f"{path}.{k}" if path else str(k))
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: length {len(a)} != {len(b)}"]
        out = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out += compare_json(x, y, rel, f"{path}[{i}]")
        return out
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


def _arrays_close(x: np.ndarray, y: np.ndarray, rel: float) -> np.ndarray:
    """Elementwise: equal, both NaN, or within ``rel`` relative (the tolerance of the JSON)."""
    both_nan = np.isnan(x) & np.isnan(y)
    with np.errstate(invalid="ignore"):
        close = np.abs(x - y) <= rel * np.maximum(np.abs(x), np.abs(y))
    return close | both_nan | (x == y)


def compare_frames(a: pd.DataFrame, b: pd.DataFrame, rel: float = 1e-10) -> list[str]:
    """Differences between two tables: columns, dtypes, strings exactly, numbers within ``rel``."""
    if list(a.columns) != list(b.columns):
        return [f"columns {list(a.columns)} != {list(b.columns)}"]
    if a.shape != b.shape:
        return [f"shape {a.shape} != {b.shape}"]
    out = []
    for c in a.columns:
        x, y = a[c], b[c]
        if str(x.dtype) != str(y.dtype):
            out.append(f"{c}: dtype {x.dtype} != {y.dtype}")
        elif pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x):
            xv, yv = x.to_numpy(float), y.to_numpy(float)
            bad = ~_arrays_close(xv, yv, rel)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                out.append(
                    f"{c}: {int(bad.sum())} value(s) differ, first at row {i}: {xv[i]!r} != {yv[i]!r}"
                )
        elif not x.astype(object).equals(y.astype(object)):
            out.append(f"{c}: values differ")
    return out


def compare_npz(a: Path, b: Path, rel: float = 1e-10) -> list[str]:
    """Differences between two ``.npz`` archives: array names, shapes, dtypes; numeric values
    within ``rel``, others exactly."""
    with np.load(a, allow_pickle=False) as za, np.load(b, allow_pickle=False) as zb:
        if sorted(za.files) != sorted(zb.files):
            return [f"arrays {sorted(za.files)} != {sorted(zb.files)}"]
        out = []
        for name in sorted(za.files):
            x, y = za[name], zb[name]
            if x.shape != y.shape or x.dtype != y.dtype:
                out.append(f"{name}: {x.dtype}{list(x.shape)} != {y.dtype}{list(y.shape)}")
            elif x.dtype.kind in "iuf":
                bad = ~_arrays_close(x.astype(float), y.astype(float), rel)
                if bad.any():
                    i = np.unravel_index(int(np.flatnonzero(bad)[0]), x.shape)
                    out.append(
                        f"{name}: {int(bad.sum())} value(s) differ, first at "
                        f"{[int(k) for k in i]}: {x[i].item()!r} != {y[i].item()!r}"
                    )
            elif not np.array_equal(x, y):
                out.append(f"{name}: values differ")
        return out


OFFICE = (".docx", ".xlsx", ".pptx")
_CORE_TIMES = re.compile(
    rb"<dcterms:(created|modified)[^>]*>[^<]*</dcterms:\1>|<cp:lastPrinted>[^<]*</cp:lastPrinted>"
)


def compare_office(a: Path, b: Path) -> list[str]:
    """Office Open XML packages (DOCX, XLSX) by content: every part byte-identical, except the
    creation/modification times of ``docProps/core.xml`` (python-docx stamps the wall clock)."""
    with zipfile.ZipFile(a) as za, zipfile.ZipFile(b) as zb:
        if sorted(za.namelist()) != sorted(zb.namelist()):
            return ["different parts"]
        out = []
        for name in sorted(za.namelist()):
            x, y = za.read(name), zb.read(name)
            if name == "docProps/core.xml":
                x, y = _CORE_TIMES.sub(b"", x), _CORE_TIMES.sub(b"", y)
            if x != y:
                out.append(f"part {name} differs")
        return out


def _sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def compare_file(a: Path, b: Path, rel: float = 1e-10) -> tuple[str, list[str]]:
    """(how it was compared, differences) for one artifact present in both trees."""
    suffix = a.suffix.lower()
    try:
        if suffix == ".json":
            return "json numbers", compare_json(
                json.loads(a.read_text()), json.loads(b.read_text()), rel
            )
        if suffix == ".parquet":
            return "table content", compare_frames(pd.read_parquet(a), pd.read_parquet(b), rel)
        if suffix == ".npz":
            return "array content", compare_npz(a, b, rel)
        if suffix in OFFICE:
            return "document content", compare_office(a, b)
        if suffix in (".csv", ".tsv"):
            sep = "\t" if suffix == ".tsv" else ","
            return "table content", compare_frames(
                pd.read_csv(a, sep=sep), pd.read_csv(b, sep=sep), rel
            )
    except (
        ValueError,
        OSError,
        zipfile.BadZipFile,
    ) as exc:  # unreadable on one side: fall back to bytes
        return "sha256", [] if _sha256(a) == _sha256(b) else [f"unreadable ({exc}); bytes differ"]
    return "sha256", [] if _sha256(a) == _sha256(b) else ["bytes differ"]


def _excluded(rel_path: str) -> str | None:
    for pattern, why in EXCLUDED.items():
        if fnmatch.fnmatch(rel_path, pattern):
            return why
    return None


def _artifacts(root: Path) -> set[str]:
    out = set()
    for d in COMPARED_DIRS:
        if (root / d).is_dir():
            out |= {p.relative_to(root).as_posix() for p in (root / d).rglob("*") if p.is_file()}
    return out


NOT_WRITTEN = "not written by the pipeline (no rule has it as output), e.g. a tracked placeholder"


def _covered(rel_path: str, outputs: frozenset[str]) -> bool:
    """True when ``rel_path`` is a DAG output or lies below a directory output."""
    parts = rel_path.split("/")
    return any("/".join(parts[:i]) in outputs for i in range(len(parts), 0, -1))


def compare_trees(
    original: str | Path,
    rerun: str | Path,
    rel: float = 1e-10,
    outputs: Iterable[str] | None = None,
) -> dict:
    """Compare every artifact under ``data/`` and ``reports/`` of two project directories.

    ``outputs``: the DAG's output paths (see :func:`pipeline_outputs`); a file present in one tree
    only and not among them is no artifact (excluded). None: every file is an artifact.
    """
    original, rerun = Path(original), Path(rerun)
    a, b = _artifacts(original), _artifacts(rerun)
    outs = None if outputs is None else frozenset(o.rstrip("/") for o in outputs)
    files, excluded = [], {}
    for rp in sorted(a | b):
        why = _excluded(rp)
        if why is None and outs is not None and (rp not in a or rp not in b):
            why = None if _covered(rp, outs) else NOT_WRITTEN
        if why:
            excluded[rp] = why
            continue
        if rp not in b:
            files.append(
                {"path": rp, "how": "-", "status": "missing in the rerun", "differences": []}
            )
        elif rp not in a:
            files.append({"path": rp, "how": "-", "status": "only in the rerun", "differences": []})
        else:
            how, diffs = compare_file(original / rp, rerun / rp, rel)
            files.append(
                {
                    "path": rp,
                    "how": how,
                    "status": "same" if not diffs else "differs",
                    "differences": diffs[:10],
                }
            )
    n_bad = sum(f["status"] != "same" for f in files)
    return {
        "passed": n_bad == 0 and bool(files),
        "rel_tol": rel,
        "n_compared": len(files),
        "n_same": len(files) - n_bad,
        "n_differ": n_bad,
        "files": files,
        "excluded": excluded,
    }


# --------------------------------------------------------------------------- rerun + certificate


def _snakemake(workdir: Path, cores: int, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "--cores", str(cores), *args]
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)


def pipeline_outputs(project: Path) -> list[str]:
    """Every output path of the project's DAG (``snakemake --summary``, first column)."""
    res = _snakemake(project, 1, "--summary")
    if res.returncode != 0:
        raise MlmpipeError(
            f"mlmpipe verify: snakemake --summary failed:\n{(res.stdout + res.stderr)[-2000:]}"
        )
    lines = res.stdout.splitlines()
    start = next((i for i, x in enumerate(lines) if x.startswith("output_file\t")), None)
    if start is None:
        raise MlmpipeError("mlmpipe verify: snakemake --summary printed no table of outputs")
    return [x.split("\t", 1)[0] for x in lines[start + 1 :] if "\t" in x]


def rerun_pipeline(project: Path, workdir: Path, cores: int = 2) -> None:
    """Copy plan, workflow, registration and raw data into ``workdir`` and run the DAG there."""
    for name in COPIED:
        src = project / name
        if src.is_dir():
            shutil.copytree(src, workdir / name)
        elif src.exists():
            (workdir / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, workdir / name)
    (workdir / "data" / "raw").mkdir(parents=True, exist_ok=True)
    res = _snakemake(workdir, cores)
    if res.returncode != 0:
        raise MlmpipeError(
            f"mlmpipe verify: the rerun failed:\n{(res.stdout + res.stderr)[-2000:]}"
        )


def _provenance(root: Path) -> dict:
    p = root / "reports" / "provenance.json"
    return json.loads(p.read_text()) if p.exists() else {}


def certificate(comparison: dict, original: Path, rerun: Path, seconds: float) -> dict:
    """The reproducibility certificate: plan and data hashes of both runs + the comparison."""
    pa, pb = _provenance(original), _provenance(rerun)
    same_plan = bool(pa.get("plan_sha256")) and pa.get("plan_sha256") == pb.get("plan_sha256")
    same_data = bool(pa.get("raw_sha256")) and pa.get("raw_sha256") == pb.get("raw_sha256")
    return {
        "passed": bool(comparison["passed"] and same_plan and same_data),
        "verified_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "plan_sha256": pa.get("plan_sha256"),
        "same_plan": same_plan,
        "raw_sha256": pa.get("raw_sha256"),
        "same_data": same_data,
        "same_numbers": comparison["passed"],
        "seed": pa.get("seed"),
        "rerun_seconds": round(seconds, 1),
        **comparison,
    }


def verify(project: str | Path = ".", cores: int = 2, keep: str | Path | None = None) -> dict:
    """Rerun the pipeline of ``project`` from its raw data in a fresh directory, compare every
    artifact, write ``reports/reproducibility.json`` and return the certificate.

    The project must be up to date (nothing left to run); ``keep`` keeps the rerun there.
    """
    project = Path(project).resolve()
    if not (project / "Snakefile").exists():
        raise MlmpipeError(f"mlmpipe verify: no Snakefile in {project}")
    dry = _snakemake(project, 1, "-n")
    if dry.returncode != 0 or "Nothing to be done" not in dry.stdout + dry.stderr:
        raise MlmpipeError(
            "mlmpipe verify: the project's artifacts are not up to date; run 'mlmpipe run' first"
        )
    outputs = pipeline_outputs(project)
    t0 = time.perf_counter()
    if keep:
        workdir = Path(keep)
        workdir.mkdir(parents=True, exist_ok=False)
        rerun_pipeline(project, workdir, cores)
        cert = certificate(
            compare_trees(project, workdir, outputs=outputs),
            project,
            workdir,
            time.perf_counter() - t0,
        )
    else:
        with tempfile.TemporaryDirectory(prefix="mlmpipe-verify-") as tmp:
            workdir = Path(tmp)
            rerun_pipeline(project, workdir, cores)
            cert = certificate(
                compare_trees(project, workdir, outputs=outputs),
                project,
                workdir,
                time.perf_counter() - t0,
            )
    (project / CERTIFICATE).write_text(json.dumps(cert, indent=1) + "\n", encoding="utf-8")
    return cert


def format_certificate(cert: dict) -> str:
    """Plain-text summary for the command line."""
    lines = [
        f"reproducibility: {'PASSED' if cert['passed'] else 'FAILED'}",
        f"  plan SHA-256 {cert.get('plan_sha256')} ({'same' if cert.get('same_plan') else 'DIFFERENT'})",
        f"  data SHA-256 {cert.get('raw_sha256')} ({'same' if cert.get('same_data') else 'DIFFERENT'})",
        f"  artifacts: {cert['n_same']} of {cert['n_compared']} the same (numbers within {cert['rel_tol']:g} relative); "
        f"{len(cert['excluded'])} excluded",
    ]
    for f in cert["files"]:
        if f["status"] != "same":
            lines.append(f"  {f['status']}: {f['path']}")
            lines += [f"      {d}" for d in f["differences"][:3]]
    return "\n".join(lines)
