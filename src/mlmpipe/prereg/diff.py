"""Key-by-key comparison of the executed plan with the frozen (preregistered) one.

Both plans are compared after validation with defaults filled in, so a default written out
explicitly is not a deviation and a changed default is. Keys are dotted paths; entries of a list of
named objects (``levels``, ``models``, ``hypotheses``) are addressed by name rather than position
(``levels.school.predictors.disclim.centering``, ``models.m3_slope.add_random``), so inserting a
model does not shift every later key. Other lists are compared as whole values.

A deviation is explained when the executed plan's ``deviations:`` section has a justification for
its path or for any prefix of it (``models.m3_slope`` covers all keys of that model). The
``deviations`` section itself is not compared.
"""

from __future__ import annotations

import json
from typing import Any

from mlmpipe.prereg.freeze import load_frozen, plan_sha256

NOT_COMPARED = ("deviations",)
ABSENT = "<absent>"


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


def deviation_report(
    frozen: dict | None,
    executed: dict,
    record: dict | None = None,
    executed_sha256: str | None = None,
) -> dict:
    """The deviations section of the report (``reports/deviations.json``).

    ``frozen`` is the frozen plan (None: nothing was frozen), ``executed`` the validated plan that
    ran (its ``deviations`` hold the justifications), ``record`` the freeze record.
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
    devs, used = [], set()
    for d in diff_plans(frozen, executed):
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
    for path in report.get("unused_justifications", []):
        lines.append(f"note: deviations.{path} justifies no deviation (typo or obsolete?)")
    return "\n".join(lines)


def deviations_step(plan_json: str | dict, root: str = ".") -> dict:
    """The ``deviations`` rule: the executed plan (canonical JSON) against ``root/prereg/``."""
    executed = json.loads(plan_json) if isinstance(plan_json, str) else plan_json
    frozen = load_frozen(root)
    if frozen is None:
        return deviation_report(None, executed, executed_sha256=plan_sha256(executed))
    return deviation_report(frozen[0], executed, frozen[1], plan_sha256(executed))
