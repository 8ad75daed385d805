"""The report's sensitivity section: one function per notebook cell, reading the multiverse artifacts.

``paths`` is what the report rule passes: ``[summary.json, sensitivity.csv, curve.png]``, or an
empty list when the plan does not enable the multiverse (each function then says so).
"""

from __future__ import annotations

import json

import pandas as pd

NOT_PLANNED = pd.DataFrame(
    {"sensitivity": ["no multiverse in the plan (sensitivity.enabled: false)"]}
)


def load_section(paths: list[str]) -> dict | None:
    """Summary and table of the multiverse, or None when the plan has none."""
    if not paths:
        return None
    summary_path, table_path, figure_path = paths
    with open(summary_path, encoding="utf-8") as fh:
        summary = json.load(fh)
    return {"summary": summary, "table": pd.read_csv(table_path), "figure": figure_path}


def robustness_table(section: dict | None) -> pd.DataFrame:
    """Per focal parameter: counts, the primary estimate, shares of same sign and significant."""
    if section is None:
        return NOT_PLANNED
    rows = []
    for focal, r in section["summary"]["focal"].items():
        rows.append(
            {
                "focal parameter": focal,
                "specifications": r["specifications"],
                "estimated": r["estimated"],
                "failed": r["failed"],
                "not applicable": r.get("not_applicable", 0),
                "primary estimate": r["primary_estimate"],
                "scale": section["summary"].get("scale", "outcome units"),
                "median": r["median_estimate"],
                "range": f"{r['min_estimate']:.4g} to {r['max_estimate']:.4g}",
                "same sign": r["share_same_sign"],
                "significant, same sign": r["share_significant_same_sign"],
                "moves it most": r["moves_most"],
            }
        )
    return pd.DataFrame(rows)


def curve_png(section: dict | None) -> bytes | None:
    """PNG bytes of the specification curve (None when there is no multiverse)."""
    if section is None:
        return None
    with open(section["figure"], "rb") as fh:
        return fh.read()


def dimension_table(section: dict | None) -> pd.DataFrame:
    """How far each dimension moves the focal estimate (range of the option means)."""
    if section is None:
        return NOT_PLANNED
    frames = []
    for focal, r in section["summary"]["focal"].items():
        t = pd.DataFrame(r["dimension_effects"])
        t.insert(0, "focal parameter", focal)
        frames.append(t)
    return pd.concat(frames, ignore_index=True) if frames else NOT_PLANNED


def specifications_table(section: dict | None) -> pd.DataFrame:
    """Every specification: its choices, status (with the reason of failures) and the estimate."""
    if section is None:
        return NOT_PLANNED
    t = section["table"].copy()
    keep = [c for c in t.columns if c != "nobs"]
    return t[keep].sort_values(["focal", "status", "estimate"]).reset_index(drop=True)


def hausman_table(section: dict | None) -> pd.DataFrame:
    """Hausman-type within vs between contrasts of the random-effects specifications."""
    if section is None:
        return NOT_PLANNED
    rows = [
        {
            "specification": h["id"],
            "terms": ", ".join(h["terms"]),
            "H": h["statistic"],
            "df": h["df"],
            "p": h["p"],
        }
        for h in section["summary"]["hausman"]
    ]
    return pd.DataFrame(rows, columns=["specification", "terms", "H", "df", "p"])
