"""Key-by-key comparison of the executed plan with the frozen (preregistered) one.

Both plans are compared after validation with defaults filled in, so a default written out
explicitly is not a deviation and a changed default is. Keys are dotted paths; entries of a list of
named objects (``levels``, ``models``, ``hypotheses``) are addressed by name rather than position
(``levels.school.predictors.disclim.centering``, ``models.m3_slope.add_random``), so inserting a
model does not shift every later key. Other lists are compared as whole values.

The analysed data are compared too: when the raw file was hashed at freezing, a different SHA-256
of the file analysed now is the deviation ``data.sha256`` (registered and executed hash), which
needs a justification like any other (``deviations: {data.sha256: "..."}``, or ``data`` for every
data key). A file swapped after freezing is thus never "no deviations".

A deviation is explained when the executed plan's ``deviations:`` section has a justification for
its path or for any prefix of it (``models.m3_slope`` covers all keys of that model). The
``deviations`` section itself is not compared.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlmpipe.prereg.freeze import load_frozen, plan_sha256
from mlmpipe.provenance import sha256_file

NOT_COMPARED = ("deviations",)
ABSENT = "<absent>"
DATA_KEY = "data.sha256"


def _named(items: Any) -> bool:
    if not isinstance(items, list) or not items:
        return False
    if not all(isinstance(x, dict) and isinstance(x.get("name"), str) for x in items):
        return False
    names = [x["name"] for x in items]
    return len(set(names)) == len(names)


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Leaves of a plan by dotted path (named lists keyed by name, other lists kept whole)."""
    out: dict[str, Any] = {}
    if isinstance(obj, dict) and obj:
        for k in sorted(obj):
            out.update(flatten(obj[k], f"{prefix}.{k}" if prefix else str(k)))
    elif _named(obj):
        for item in obj:
            rest = {k: v for k, v in item.items() if k != "name"}
            path = f"{prefix}.{item['name']}"
            out.update(flatten(rest, path) if rest else {path: {}})
    else:
        out[prefix] = obj
    return out


def diff_plans(frozen: dict, executed: dict) -> list[dict]:
    """Every path whose value differs: ``{"key", "registered", "executed"}`` in path order.

    A key present in only one plan has the value ``"<absent>"`` on the other side.
    """
    a = flatten({k: v for k, v in frozen.items() if k not in NOT_COMPARED})
    b = flatten({k: v for k, v in executed.items() if k not in NOT_COMPARED})
    out = []
    for key in sorted(set(a) | set(b)):
        ra, rb = a.get(key, ABSENT), b.get(key, ABSENT)
        if json.dumps(ra, sort_keys=True, default=str) != json.dumps(
            rb, sort_keys=True, default=str
        ):
            out.append({"key": key, "registered": ra, "executed": rb})
    return out


def _justification(key: str, justifications: dict[str, str]) -> tuple[str | None, str | None]:
    """The justification for ``key`` from its longest matching prefix path."""
    best = None
    for path in justifications:
        if key == path or key.startswith(path + "."):
            if best is None or len(path) > len(best):
                best = path
    return (best, justifications[best]) if best else (None, None)


def data_comparison(record: dict | None, data_sha256: str | None) -> dict:
    """The frozen raw-data hash against the analysed one: ``{"registered", "executed", "same",
    "note"}`` (``same`` is None when one side is unknown, and the note says why)."""
    reg = (record or {}).get("raw_sha256")
    note = None
    if reg is None:
        note = "the raw data were not hashed at freezing (the file did not exist then)"
    elif data_sha256 is None:
        note = "the raw data file is not present: its hash is not compared"
    same = None if note else reg == data_sha256
    return {"registered": reg, "executed": data_sha256, "same": same, "note": note}


def deviation_report(
    frozen: dict | None,
    executed: dict,
    record: dict | None = None,
    executed_sha256: str | None = None,
    data_sha256: str | None = None,
) -> dict:
    """The deviations section of the report (``reports/deviations.json``).

    ``frozen`` is the frozen plan (None: nothing was frozen), ``executed`` the validated plan that
    ran (its ``deviations`` hold the justifications), ``record`` the freeze record,
    ``data_sha256`` the SHA-256 of the raw file analysed (compared with the record's).
    """
    if frozen is None:
        return {
            "frozen": False,
            "message": "no preregistration frozen",
            "deviations": [],
            "n_deviations": 0,
            "n_unexplained": 0,
            "unused_justifications": [],
            "executed_sha256": executed_sha256,
        }
    justifications = dict(executed.get("deviations") or {})
    data = data_comparison(record, data_sha256)
    diffs = diff_plans(frozen, executed)
    if data["same"] is False:
        diffs.append({"key": DATA_KEY, "registered": data["registered"], "executed": data_sha256})
        diffs.sort(key=lambda d: d["key"])
    devs, used = [], set()
    for d in diffs:
        path, text = _justification(d["key"], justifications)
        if path:
            used.add(path)
        devs.append(
            {**d, "justification": text, "justified_by": path, "explained": text is not None}
        )
    n_unexplained = sum(not d["explained"] for d in devs)
    if not devs:
        message = "no deviations from the preregistered plan"
    else:
        message = (
            f"{len(devs)} deviation(s) from the preregistered plan, {n_unexplained} unexplained"
        )
    record = record or {}
    return {
        "frozen": True,
        "message": message,
        "frozen_at": record.get("frozen_at"),
        "frozen_sha256": record.get("plan_sha256"),
        "executed_sha256": executed_sha256,
        "data": data,
        "deviations": devs,
        "n_deviations": len(devs),
        "n_unexplained": n_unexplained,
        "unused_justifications": sorted(set(justifications) - used),
    }


def _short(v: Any, width: int = 60) -> str:
    s = v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str)
    return s if len(s) <= width else s[: width - 3] + "..."


def format_deviations(report: dict) -> str:
    """Plain-text rendering for ``mlmpipe prereg diff`` (one block per deviation)."""
    lines = [report["message"]]
    if report.get("frozen"):
        lines.insert(0, f"frozen plan {report.get('frozen_sha256')} ({report.get('frozen_at')})")
    for d in report["deviations"]:
        flag = "explained" if d["explained"] else "UNEXPLAINED"
        lines.append(f"[{flag}] {d['key']}")
        lines.append(f"    registered: {_short(d['registered'])}")
        lines.append(f"    executed:   {_short(d['executed'])}")
        if d["explained"]:
            lines.append(f"    justification ({d['justified_by']}): {d['justification']}")
    data = report.get("data") or {}
    if data.get("note"):
        lines.append(f"note: data SHA-256 not compared: {data['note']}")
    elif data.get("same"):
        lines.append(f"data SHA-256 {data['executed']} (as frozen)")
    for path in report.get("unused_justifications", []):
        lines.append(f"note: deviations.{path} justifies no deviation (typo or obsolete?)")
    return "\n".join(lines)


def raw_sha256(raw_file: str | Path | None) -> str | None:
    """SHA-256 of the raw data file analysed (None when there is none)."""
    return sha256_file(raw_file) if raw_file and Path(raw_file).is_file() else None


def deviations_step(
    plan_json: str | dict, root: str = ".", raw_file: str | Path | None = None
) -> dict:
    """The ``deviations`` rule: the executed plan (canonical JSON) and the raw file analysed
    against ``root/prereg/``."""
    executed = json.loads(plan_json) if isinstance(plan_json, str) else plan_json
    frozen = load_frozen(root)
    if frozen is None:
        return deviation_report(None, executed, executed_sha256=plan_sha256(executed))
    return deviation_report(
        frozen[0], executed, frozen[1], plan_sha256(executed), raw_sha256(raw_file)
    )
