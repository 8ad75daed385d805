"""Run the bundled examples at a revision and compare the artifacts of two runs (issue 13).

    python validation/compare_artifacts.py run --rev REV --out DIR [--examples a,b] [--cores N]
    python validation/compare_artifacts.py diff BEFORE AFTER [--rtol 1e-10]

``run`` exports revision REV of this repository (``git archive``; ``--rev WORKTREE`` uses the
current checkout as it is on disk), runs each example plan in a fresh project directory with that
revision's ``src/`` first on PYTHONPATH, and keeps ``reports/``, ``data/`` and ``logs/`` under
``DIR/<example>/`` plus ``DIR/run.json`` (revision, per-example status and wall time).

``diff`` compares every JSON, CSV, Parquet and ``.npz`` artifact of two such trees leaf by leaf:
numbers must agree to ``|a - b| <= rtol * max(|a|, |b|)`` (differences <= 1e-300 count as equal,
so exact zeros compare; NaN equals NaN and null). Text leaves must be equal. An ``X.npz`` is
merged into the leaves of its sibling ``X.json`` (array ``ranef/school/values`` becomes the key
path ``ranef/school/values/<i>/<j>``), so arrays moved out of a JSON file compare against their
old JSON location. Files or key paths present on one side only are layout changes: listed, never
a failure. Values that differ between two runs of the same revision (VOLATILE) are skipped.
Exit status 1 when any numeric (or text) leaf differs.
"""

from __future__ import annotations

import argparse
import fnmatch
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

EXAMPLES: dict[str, str] = {
    "hsb": "config/analysis.yaml",
    "hsb_binary": "config/examples/hsb_binary.yaml",
    "gcsemv": "config/examples/gcsemv.yaml",
    "chem97": "config/examples/chem97_ordinal.yaml",
    "sleepstudy": "config/examples/sleepstudy.yaml",
}
KEPT_DIRS = ("reports", "data", "logs")
WORKTREE = "WORKTREE"


# ---------------------------------------------------------------------------------------- run


def export_revision(rev: str, dest: Path) -> tuple[Path, str]:
    """Return the source root of ``rev`` and its commit id; a commit is unpacked into ``dest``
    with ``git archive`` (the repository's worktrees and index are not touched)."""
    if rev == WORKTREE:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain"], capture_output=True, text=True
        ).stdout.strip()
        return ROOT, f"{head}{'+dirty' if dirty else ''} ({ROOT})"
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", f"{rev}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    tar = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(dest, filter="data")
    return dest, commit


def make_project(src_root: Path, plan: str, project: Path) -> None:
    """A project directory as the e2e tests build it: Snakefile, workflow/, config/ of the
    revision, ``plan`` copied to config/analysis.yaml, and an empty data/raw/."""
    project.mkdir(parents=True)
    shutil.copy2(src_root / "Snakefile", project / "Snakefile")
    shutil.copytree(src_root / "workflow", project / "workflow")
    shutil.copytree(src_root / "config", project / "config")
    shutil.copy2(src_root / plan, project / "config" / "analysis.yaml")
    (project / "data" / "raw").mkdir(parents=True)


def run_example(src_root: Path, name: str, out: Path, cores: int) -> dict[str, Any]:
    """Run example ``name`` with the library in ``src_root/src``; copy its artifacts to
    ``out/name`` and the Snakemake output to ``out/name/snakemake.log``."""
    dest = out / name
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix=f"mlmpipe-{name}-") as tmp:
        project = Path(tmp) / "project"
        make_project(src_root, EXAMPLES[name], project)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(src_root / "src")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
        )
        t0 = time.perf_counter()
        with open(dest / "snakemake.log", "w") as log:
            res = subprocess.run(
                [sys.executable, "-m", "snakemake", "--cores", str(cores)],
                cwd=project,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wall = time.perf_counter() - t0
        for sub in KEPT_DIRS:
            if (project / sub).exists():
                shutil.copytree(project / sub, dest / sub)
    return {"plan": EXAMPLES[name], "returncode": res.returncode, "wall_s": round(wall, 1)}


def cmd_run(args: argparse.Namespace) -> int:
    names = [n.strip() for n in args.examples.split(",") if n.strip()]
    unknown = [n for n in names if n not in EXAMPLES]
    if unknown:
        raise SystemExit(f"unknown example(s) {unknown}; choose from {sorted(EXAMPLES)}")
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    meta_path = out / "run.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {"examples": {}}
    with tempfile.TemporaryDirectory(prefix="mlmpipe-rev-") as tmp:
        src_root, commit = export_revision(args.rev, Path(tmp))
        meta.update(rev=args.rev, commit=commit, cores=args.cores)
        for name in names:
            print(f"[{time.strftime('%H:%M:%S')}] {name} ...", flush=True)
            rec = run_example(src_root, name, out, args.cores)
            meta["examples"][name] = rec
            meta_path.write_text(json.dumps(meta, indent=2) + "\n")
            status = "ok" if rec["returncode"] == 0 else f"FAILED (rc {rec['returncode']})"
            print(
                f"[{time.strftime('%H:%M:%S')}] {name}: {status} in {rec['wall_s']} s", flush=True
            )
    return 0 if all(meta["examples"][n]["returncode"] == 0 for n in names) else 1


# --------------------------------------------------------------------------------------- diff

COMPARED_SUFFIXES = (".json", ".csv", ".parquet", ".npz")
# Run records of ``run``, not artifacts: never listed or compared.
SKIPPED = ("run.json", "*/snakemake.log", "*/logs/*", "*/.snakemake_timestamp")

# Values that differ between two runs with the same statistics; (file pattern, key-path pattern,
# why), fnmatch patterns where ``*`` also matches ``/``. Running sleepstudy twice at 4ab2d9e and
# diffing with rtol 0 showed exactly the first two (every other leaf was bit-identical); the last
# three are provenance of the software, constant on one machine but not part of the results. The
# plan hash (provenance ``plan_sha256``, deviations ``executed_sha256``) and the data's hash
# (``raw_sha256``) stay compared: a change there is a change of what the analysis ran on.
VOLATILE: tuple[tuple[str, str, str], ...] = (
    ("*.json", "*optimizer/seconds", "wall time of one optimisation (every fit's OptSummary)"),
    ("*/reports/provenance.json", "created", "time stamp of the provenance record"),
    ("*/reports/provenance.json", "packages/*", "installed package versions"),
    ("*/reports/provenance.json", "python", "interpreter version"),
    ("*/reports/provenance.json", "platform", "host kernel and C library"),
)


@dataclass
class Report:
    """Outcome of comparing two artifact trees."""

    rtol: float
    numeric_compared: int = 0
    numeric_equal: int = 0
    text_compared: int = 0
    numeric_mismatches: list[tuple[str, Any, Any, float]] = field(default_factory=list)
    text_mismatches: list[tuple[str, Any, Any]] = field(default_factory=list)
    files_only_before: list[str] = field(default_factory=list)
    files_only_after: list[str] = field(default_factory=list)
    files_listed: list[str] = field(default_factory=list)
    keys_only_before: dict[str, list[str]] = field(default_factory=dict)
    keys_only_after: dict[str, list[str]] = field(default_factory=dict)
    moved_numbers: dict[str, tuple[int, int]] = field(default_factory=dict)
    volatile_skipped: int = 0
    per_example: dict[str, list[int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.numeric_mismatches and not self.text_mismatches


def _scalar(v: Any) -> Any:
    """A JSON-like Python scalar: NumPy scalars unwrapped, pandas' missing values as None."""
    if isinstance(v, np.generic):
        v = v.item()
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (pd.Timestamp, pd.Timedelta)):
        return str(v)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return v


def flatten(obj: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Key paths -> leaves of nested dicts/lists/arrays; path parts joined by "/", list and
    array positions as integers (``ranef/school/values/3/0``). Empty containers are leaves."""
    if isinstance(obj, np.ndarray):
        obj = obj.tolist()
    if isinstance(obj, dict) and obj:
        for k, v in obj.items():
            yield from flatten(v, f"{prefix}/{k}" if prefix else str(k))
    elif isinstance(obj, (list, tuple)) and obj:
        for i, v in enumerate(obj):
            yield from flatten(v, f"{prefix}/{i}" if prefix else str(i))
    elif isinstance(obj, (dict, list, tuple)):
        yield prefix, "{}" if isinstance(obj, dict) else "[]"
    else:
        yield prefix, _scalar(obj)


def flatten_table(df: pd.DataFrame) -> dict[str, Any]:
    """Cells of a table as ``<column>/<row position>``; a non-default index becomes columns."""
    if not isinstance(df.index, pd.RangeIndex):
        df = df.reset_index()
    out: dict[str, Any] = {}
    for col in df.columns:
        name = "/".join(map(str, col)) if isinstance(col, tuple) else str(col)
        for i, v in enumerate(df[col].astype(object).tolist()):
            out[f"{name}/{i}"] = _scalar(v)
    return out


def read_npz(path: Path) -> dict[str, Any]:
    """Each array of an ``.npz`` flattened under its name (``ranef/school/values/<i>/<j>``)."""
    with np.load(path, allow_pickle=False) as z:
        return {k: v for name in z.files for k, v in flatten(z[name], name)}


def read_leaves(path: Path) -> dict[str, Any]:
    """Key paths -> leaves of one JSON, CSV, Parquet or npz file."""
    suffix = path.suffix
    if suffix == ".json":
        return dict(flatten(json.loads(path.read_text())))
    if suffix == ".csv":
        return flatten_table(pd.read_csv(path))
    if suffix == ".parquet":
        return flatten_table(pd.read_parquet(path))
    if suffix == ".npz":
        return read_npz(path)
    raise ValueError(f"not a compared artifact: {path}")


def merge_arrays(doc: dict[str, Any], arrays: dict[str, Any], names: Iterable[str]) -> None:
    """Put the arrays of ``X.npz`` into the leaves of ``X.json``: an array replaces any JSON leaf
    at its name or below it (a reference left in the JSON), so it sits where the JSON had it."""
    for name in names:
        stale = [k for k in doc if k == name or k.startswith(name + "/")]
        for k in stale:
            del doc[k]
    doc.update(arrays)


def list_files(root: Path) -> list[str]:
    """Artifact files under ``root`` as sorted POSIX paths relative to it (run records skipped)."""
    files = []
    for p in root.rglob("*"):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and not any(fnmatch.fnmatch(rel, pat) for pat in SKIPPED):
            files.append(rel)
    return sorted(files)


def load_documents(root: Path, files: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Compared documents of a tree: each JSON/CSV/Parquet file, with ``X.npz`` merged into its
    sibling ``X.json`` (an npz without one is a document of its own)."""
    files = set(files)
    docs: dict[str, dict[str, Any]] = {}
    for rel in sorted(files):
        if rel.endswith(".npz") and rel[: -len(".npz")] + ".json" in files:
            continue
        if rel.endswith(COMPARED_SUFFIXES):
            docs[rel] = read_leaves(root / rel)
    for rel in sorted(files):
        sibling = rel[: -len(".npz")] + ".json"
        if rel.endswith(".npz") and sibling in files:
            with np.load(root / rel, allow_pickle=False) as z:
                names = list(z.files)
            merge_arrays(docs[sibling], read_npz(root / rel), names)
    return docs


def is_volatile(doc: str, key: str) -> bool:
    return any(fnmatch.fnmatch(doc, f) and fnmatch.fnmatch(key, k) for f, k, _ in VOLATILE)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_nan_like(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def numbers_equal(a: float, b: float, rtol: float) -> bool:
    """``|a - b| <= rtol * max(|a|, |b|)``, differences <= 1e-300 equal; NaN == NaN, inf == inf."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if a == b:
        return True
    if math.isinf(a) or math.isinf(b):
        return False
    d = abs(a - b)
    return d <= 1e-300 or d <= rtol * max(abs(a), abs(b))


def rel_diff(a: float, b: float) -> float:
    scale = max(abs(a), abs(b))
    return abs(a - b) / scale if scale > 0 else abs(a - b)


def moved_numbers(
    before: dict[str, Any], after: dict[str, Any], only_b: list[str], only_a: list[str], rtol: float
) -> tuple[int, int]:
    """Of the finite numbers at key paths only before, how many equal (to ``rtol``) some number at
    a key path only after: a hint that values moved rather than vanished (positions not checked)."""
    olds = [float(before[k]) for k in only_b if _is_number(before[k])]
    olds = [v for v in olds if math.isfinite(v)]
    news = np.sort([float(after[k]) for k in only_a if _is_number(after[k])])
    matched = 0
    for v in olds:
        i = int(np.searchsorted(news, v))
        matched += any(
            numbers_equal(v, float(news[j]), rtol) for j in (i - 1, i) if 0 <= j < len(news)
        )
    return matched, len(olds)


def compare_leaves(doc: str, before: dict[str, Any], after: dict[str, Any], rep: Report) -> None:
    """Compare the leaves of one document present on both sides; record the rest as layout."""
    only_b = sorted(k for k in before.keys() - after.keys() if not is_volatile(doc, k))
    only_a = sorted(k for k in after.keys() - before.keys() if not is_volatile(doc, k))
    if only_b:
        rep.keys_only_before[doc] = only_b
        rep.moved_numbers[doc] = moved_numbers(before, after, only_b, only_a, rep.rtol)
    if only_a:
        rep.keys_only_after[doc] = only_a
    for key in sorted(before.keys() & after.keys()):
        if is_volatile(doc, key):
            rep.volatile_skipped += 1
            continue
        a, b = before[key], after[key]
        path = f"{doc}::{key}"
        counts = rep.per_example.setdefault(doc.split("/")[0], [0, 0])
        if (
            (_is_number(a) or a is None)
            and (_is_number(b) or b is None)
            and not (a is None and b is None)
        ):
            rep.numeric_compared += 1
            counts[0] += 1
            if (_is_nan_like(a) and _is_nan_like(b)) or (
                a is not None and b is not None and numbers_equal(float(a), float(b), rep.rtol)
            ):
                rep.numeric_equal += 1
                counts[1] += 1
            elif a is None or b is None:
                rep.numeric_mismatches.append((path, a, b, math.inf))
            else:
                rep.numeric_mismatches.append((path, a, b, rel_diff(float(a), float(b))))
        else:
            rep.text_compared += 1
            if type(a) is not type(b) or a != b:
                rep.text_mismatches.append((path, a, b))


def compare_trees(before: Path, after: Path, rtol: float = 1e-10) -> Report:
    """Compare every artifact of two ``run`` output trees (see the module docstring)."""
    rep = Report(rtol=rtol)
    fb, fa = list_files(before), list_files(after)
    rep.files_only_before = sorted(set(fb) - set(fa))
    rep.files_only_after = sorted(set(fa) - set(fb))
    rep.files_listed = sorted(f for f in set(fb) & set(fa) if not f.endswith(COMPARED_SUFFIXES))
    db, da = load_documents(before, fb), load_documents(after, fa)
    for doc in sorted(db.keys() & da.keys()):
        compare_leaves(doc, db[doc], da[doc], rep)
    return rep


def group_keys(keys: Iterable[str], leaves: dict[str, Any] | None = None) -> list[str]:
    """Key paths with their integer parts replaced by ``*``, one line per pattern with a count."""
    counts: dict[str, int] = {}
    for k in keys:
        pattern = "/".join("*" if part.isdigit() else part for part in k.split("/"))
        counts[pattern] = counts.get(pattern, 0) + 1
    return [f"{p}  ({n} leaves)" if n > 1 else p for p, n in sorted(counts.items())]


def format_report(rep: Report) -> str:
    """A plain-text report: counts, every mismatch, then the layout changes."""
    lines = [
        f"numeric leaves compared: {rep.numeric_compared}, equal (rtol {rep.rtol:g}): "
        f"{rep.numeric_equal}, different: {len(rep.numeric_mismatches)}",
        f"text leaves compared: {rep.text_compared}, different: {len(rep.text_mismatches)}",
        f"volatile leaves skipped: {rep.volatile_skipped}",
        f"files present on both sides, not compared (figures, HTML, DOCX, ...): "
        f"{len(rep.files_listed)}",
    ]
    lines += [
        f"  {name}: {n} numeric leaves compared, {eq} equal"
        for name, (n, eq) in sorted(rep.per_example.items())
    ]
    if rep.numeric_mismatches:
        lines.append("\nNUMERIC MISMATCHES (path, before, after, relative difference)")
        lines += [f"  {p}  {a!r}  {b!r}  {r:.3g}" for p, a, b, r in rep.numeric_mismatches]
    if rep.text_mismatches:
        lines.append("\nTEXT MISMATCHES (path, before, after)")
        lines += [f"  {p}  {a!r}  {b!r}" for p, a, b in rep.text_mismatches]
    lines.append("\nLAYOUT CHANGES (not failures)")
    if not (
        rep.files_only_before or rep.files_only_after or rep.keys_only_before or rep.keys_only_after
    ):
        lines.append("  none")
    lines += [f"  file only before: {f}" for f in rep.files_only_before]
    lines += [f"  file only after:  {f}" for f in rep.files_only_after]
    for label, table in (("before", rep.keys_only_before), ("after", rep.keys_only_after)):
        for doc, keys in sorted(table.items()):
            head = f"  keys only {label} in {doc}"
            if label == "before" and rep.moved_numbers[doc][1]:
                found, n = rep.moved_numbers[doc]
                head += f" ({n} finite numbers, {found} of them found among the keys only after)"
            lines.append(head + ":")
            lines += [f"    {g}" for g in group_keys(keys)]
    lines.append("\nOK" if rep.ok else "\nFAILED: numbers (or text) differ")
    return "\n".join(lines)


def cmd_diff(args: argparse.Namespace) -> int:
    before, after = Path(args.before), Path(args.after)
    for p in (before, after):
        if not p.is_dir():
            raise SystemExit(f"not a directory: {p}")
    rep = compare_trees(before, after, args.rtol)
    print(format_report(rep))
    return 0 if rep.ok else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run the examples at a revision and keep their artifacts")
    r.add_argument("--rev", required=True, help=f"a git revision, or {WORKTREE} (this checkout)")
    r.add_argument("--out", required=True, help="output directory (keep it outside the repo)")
    r.add_argument("--examples", default=",".join(EXAMPLES))
    r.add_argument("--cores", type=int, default=1)
    r.set_defaults(func=cmd_run)
    d = sub.add_parser("diff", help="compare the artifacts of two run directories")
    d.add_argument("before")
    d.add_argument("after")
    d.add_argument("--rtol", type=float, default=1e-10)
    d.set_defaults(func=cmd_diff)
    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
