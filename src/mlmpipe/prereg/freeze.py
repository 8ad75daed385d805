"""Freeze the plan: the registered analysis, fingerprinted.

``freeze_plan`` writes into ``prereg/``:

- ``plan.frozen.json`` -- the validated plan with every default filled in, keys sorted;
- ``freeze.json`` -- its SHA-256 (the same fingerprint the pipeline's provenance records as
  ``plan_sha256``), the time of freezing, the SHA-256 of the raw data file when it already exists
  (secondary data: the registration then pins the exact data), Python and package versions;
- ``preregistration.md`` / ``.html`` / ``.docx`` -- the human-readable document
  (:mod:`mlmpipe.prereg.document`).

A frozen registration is never overwritten silently: freezing again needs ``force=True``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from mlmpipe.errors import PlanError
from mlmpipe.plan import canonical_json, load_plan, raw_path
from mlmpipe.prereg.document import write_documents
from mlmpipe.provenance import package_versions, sha256_file

PREREG_DIR = "prereg"
FROZEN_PLAN = "plan.frozen.json"
FREEZE_RECORD = "freeze.json"


def frozen_plan_path(root: str | Path = ".") -> Path:
    return Path(root) / PREREG_DIR / FROZEN_PLAN


def freeze_record_path(root: str | Path = ".") -> Path:
    return Path(root) / PREREG_DIR / FREEZE_RECORD


def plan_sha256(config: dict) -> str:
    """SHA-256 of the canonical JSON of a validated plan (equals ``Plan.hash``)."""
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()


def freeze_plan(
    plan_file: str | Path = "config/analysis.yaml",
    root: str | Path = ".",
    force: bool = False,
    now: datetime | None = None,
) -> dict:
    """Validate ``plan_file`` and write the frozen plan, its record and the document under
    ``root/prereg/``. Returns the freeze record."""
    root = Path(root)
    plan = load_plan(plan_file)
    out = root / PREREG_DIR
    if frozen_plan_path(root).exists() and not force:
        raise PlanError(
            f"{frozen_plan_path(root)}: a plan is already frozen; a registration is not "
            "overwritten (justify changes in the plan's deviations: section, or use --force)"
        )
    out.mkdir(parents=True, exist_ok=True)
    raw = root / raw_path(plan)
    record = {
        "plan_file": str(plan_file),
        "plan_sha256": plan.hash,
        "frozen_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "raw_file": raw_path(plan),
        "raw_sha256": sha256_file(raw) if raw.exists() else None,
        "raw_note": None
        if raw.exists()
        else "the raw data file did not exist when the plan was frozen",
        "python": sys.version.split()[0],
        "packages": package_versions(),
    }
    frozen_plan_path(root).write_text(
        json.dumps(plan.config, sort_keys=True, indent=1, default=str) + "\n", encoding="utf-8"
    )
    record["documents"] = write_documents(plan, record, out)
    freeze_record_path(root).write_text(
        json.dumps(record, sort_keys=True, indent=1) + "\n", encoding="utf-8"
    )
    return record


def load_frozen(root: str | Path = ".") -> tuple[dict, dict] | None:
    """(frozen plan, freeze record), or None when nothing is frozen.

    Raises :class:`PlanError` when the frozen plan no longer matches the hash recorded at freezing.
    """
    p, r = frozen_plan_path(root), freeze_record_path(root)
    if not p.exists():
        return None
    frozen = json.loads(p.read_text(encoding="utf-8"))
    record = json.loads(r.read_text(encoding="utf-8")) if r.exists() else {}
    if record.get("plan_sha256") and plan_sha256(frozen) != record["plan_sha256"]:
        raise PlanError(
            f"{p}: the frozen plan was edited after freezing (SHA-256 {plan_sha256(frozen)[:12]} "
            f"!= recorded {record['plan_sha256'][:12]})"
        )
    return frozen, record
