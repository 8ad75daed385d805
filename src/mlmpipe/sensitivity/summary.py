"""Summaries of the multiverse: the specification table, the curve data and robustness numbers.

For each focal parameter (Simonsohn, Simmons & Nelson 2020, Nat. Hum. Behav. 4):

* the specification curve: estimates with their CIs sorted by size, with each specification's
  choices (the choice matrix);
* the share of estimated specifications in which the effect is significant at ``alpha`` with the
  same sign as the primary specification (the plan's own analysis; the median estimate's sign if
  the primary one failed);
* which dimension moves the estimate most: for each dimension, the range (max - min) of the mean
  estimate over its options, each mean taken over the specifications that use that option (options
  "-", not applicable, are left out). Specifications that failed, or whose choices do not apply to
  the plan's family (``status: not_applicable``), are listed with their reason and left out of
  every number.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlmpipe.errors import PlanError
from mlmpipe.sensitivity.grid import NOT_APPLICABLE


def specification_table(results: list[dict], focal: str) -> pd.DataFrame:
    """One row per specification: choices, status, reason and the focal estimate with its CI
    (``ddf``: the estimate's degrees of freedom, named apart from the ``df`` dimension)."""
    rows = []
    for r in results:
        row = {"id": r["id"], **r["choices"], "status": r["status"], "reason": r.get("reason")}
        est = {}
        if r["status"] == "ok":
            est = next((x for x in r["fixed"] if x["term"] == focal), None)
            if est is None:
                raise PlanError(
                    f"sensitivity.focal: {focal!r} is not a parameter of specification {r['id']}"
                )
        for k in ("estimate", "se", "df", "p", "ci_low", "ci_high"):
            v = est.get(k) if est else None
            row["ddf" if k == "df" else k] = np.nan if v is None else float(v)
        row["nobs"] = r.get("nobs")
        rows.append(row)
    return pd.DataFrame(rows)


def curve_data(table: pd.DataFrame) -> pd.DataFrame:
    """The estimated specifications sorted by estimate, with their rank (x of the curve)."""
    ok = table[table["status"] == "ok"].sort_values(["estimate", "id"]).reset_index(drop=True)
    ok.insert(0, "rank", np.arange(1, len(ok) + 1))
    return ok


def dimension_effects(table: pd.DataFrame, dimensions: list[str]) -> pd.DataFrame:
    """Per dimension: the mean focal estimate under each option and the range of those means."""
    ok = table[table["status"] == "ok"]
    rows = []
    for dim in dimensions:
        if dim not in ok:
            continue
        sub = ok[ok[dim] != NOT_APPLICABLE]
        means = sub.groupby(dim)["estimate"].mean()
        if len(means) < 2:
            continue
        rows.append(
            {
                "dimension": dim,
                "options": len(means),
                "range": float(means.max() - means.min()),
                "lowest": f"{means.idxmin()} ({means.min():.4g})",
                "highest": f"{means.idxmax()} ({means.max():.4g})",
            }
        )
    out = pd.DataFrame(rows, columns=["dimension", "options", "range", "lowest", "highest"])
    return out.sort_values("range", ascending=False).reset_index(drop=True)


def robustness(table: pd.DataFrame, primary: str, alpha: float, dimensions: list[str]) -> dict:
    """Counts, shares and the most influential dimension for one focal parameter."""
    ok = table[table["status"] == "ok"]
    prim = ok[ok["id"] == primary]
    if len(prim):
        ref, ref_from = float(np.sign(prim["estimate"].iloc[0])), "primary specification"
    else:
        ref, ref_from = float(np.sign(ok["estimate"].median())), "median estimate"
    same = np.sign(ok["estimate"]) == ref
    sig = ok["p"] < alpha
    effects = dimension_effects(table, dimensions)
    return {
        "specifications": int(len(table)),
        "estimated": int(len(ok)),
        "failed": int((table["status"] == "failed").sum()),
        "not_applicable": int((table["status"] == "not_applicable").sum()),
        "primary": primary,
        "primary_estimate": float(prim["estimate"].iloc[0]) if len(prim) else None,
        "reference_sign": ref,
        "reference_sign_from": ref_from,
        "share_same_sign": float(same.mean()) if len(ok) else None,
        "share_significant_same_sign": float((same & sig).mean()) if len(ok) else None,
        "median_estimate": float(ok["estimate"].median()) if len(ok) else None,
        "min_estimate": float(ok["estimate"].min()) if len(ok) else None,
        "max_estimate": float(ok["estimate"].max()) if len(ok) else None,
        "moves_most": effects["dimension"].iloc[0] if len(effects) else None,
        "dimension_effects": effects.to_dict("records"),
    }


def summarize(results: list[dict], spec: dict) -> tuple[dict, pd.DataFrame]:
    """Summary (JSON-able) and the specification table of every focal parameter.

    ``spec`` is :meth:`SensitivityPlan.summary_definition`. The table has one row per
    specification and focal parameter (column ``focal``).
    """
    dims = list(spec["dimensions"])
    tables, out = [], {"alpha": spec["alpha"], "dimensions": spec["dimensions"], "focal": {}}
    for focal in spec["focal"]:
        t = specification_table(results, focal)
        out["focal"][focal] = robustness(t, spec["primary"], spec["alpha"], dims)
        t.insert(1, "focal", focal)
        tables.append(t)
    out["failures"] = [
        {"id": r["id"], "status": r["status"], "reason": r.get("reason")}
        for r in results
        if r["status"] != "ok"
    ]
    if spec.get("scale"):  # non-gaussian plans: the scale of every estimate
        out["scale"] = spec["scale"]
    hausman = [r for r in results if r.get("hausman")]
    out["hausman"] = [{"id": r["id"], **r["hausman"]} for r in hausman]
    return out, pd.concat(tables, ignore_index=True)
