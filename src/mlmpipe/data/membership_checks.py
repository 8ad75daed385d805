"""Checks of a multiple-membership design, and the long membership table made wide.

A unit's memberships are its clusters with their weights (days in each school; Hill & Goldstein
1998). The model needs, for every unit, at least one cluster, non-negative observed weights, and
weights that do not sum to 0 (they are divided by their sum unless ``normalise: false``). Each
violation is a one-line :class:`DataValidationError` naming the plan key and the rows (1-based
rows of the membership table, or of the data for wide columns).

The long table (one row per unit and cluster) becomes ``<name>_mm1..K`` / ``<name>_mmw1..K``
columns of the data, slot k holding a unit's k-th cluster in the table's order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from mlmpipe.errors import DataValidationError


def _rows(mask) -> str:
    rows = np.flatnonzero(np.asarray(mask)) + 1
    shown = ", ".join(str(r) for r in rows[:5])
    return "rows " + shown + (f", … ({len(rows)} in all)" if len(rows) > 5 else "")


def _few(values: Sequence, k: int = 5) -> str:
    vals = list(values)
    return ", ".join(str(v) for v in vals[:k]) + (
        f", … ({len(vals)} in all)" if len(vals) > k else ""
    )


def _check_weights(weights: pd.DataFrame, has_id: pd.DataFrame, key: str, where: str) -> None:
    """Missing weights of a membership, negative weights, and zero-sum units."""
    w = weights.to_numpy(dtype=float)
    ids = has_id.to_numpy(dtype=bool)
    miss = (np.isnan(w) & ids).any(axis=1)
    if miss.any():
        raise DataValidationError(f"{key}: missing membership weight in {where} {_rows(miss)}")
    neg = (w < 0).any(axis=1)
    if neg.any():
        raise DataValidationError(f"{key}: negative membership weight in {where} {_rows(neg)}")
    zero = np.nansum(np.where(ids, w, 0.0), axis=1) == 0
    if zero.any():
        raise DataValidationError(
            f"{key}: membership weights sum to 0 in {where} {_rows(zero)}; a unit needs a "
            "positive total weight"
        )


def check_wide_membership(df: pd.DataFrame, m: Mapping) -> dict:
    """Check the wide columns of ``membership`` (``columns``, ``weights``); a summary for the
    checks report: units, memberships per unit, clusters."""
    cols, wcols = list(m["columns"]), list(m.get("weights") or ())
    absent = [c for c in cols + wcols if c not in df.columns]
    if absent:
        key = "membership.columns" if absent[0] in cols else "membership.weights"
        raise DataValidationError(f"{key}: column {absent[0]!r} is not in the data")
    has_id = df[cols].notna()
    none = ~has_id.any(axis=1)
    if none.any():
        raise DataValidationError(
            f"membership.columns: units with no membership (every ID column empty) in data "
            f"{_rows(none)}"
        )
    if wcols:
        w = df[wcols].set_axis(cols, axis=1)
        stray = (w.fillna(0) > 0) & ~has_id
        if stray.to_numpy().any():
            raise DataValidationError(
                "membership.weights: a positive weight without a cluster ID in data "
                f"{_rows(stray.any(axis=1))}"
            )
        _check_weights(w, has_id, "membership.weights", "data")
    n = has_id.sum(axis=1)
    clusters = pd.unique(df[cols].stack().dropna())
    return {"units": int(len(df)), "clusters": int(len(clusters)), "movers": int((n > 1).sum())}


def long_to_wide(
    table: pd.DataFrame, m: Mapping, units: pd.Series, known_clusters: Sequence | None = None
) -> tuple[pd.DataFrame, dict]:
    """The long ``membership`` table as wide columns indexed by unit (for every unit in
    ``units``), after its checks: its columns present, weights observed and >= 0, no zero-sum unit,
    every unit of the data with a membership, no unit unknown to the data, no more memberships
    than ``slots``, and (with ``known_clusters``) no cluster unknown to the data."""
    unit, cluster, weight = m["unit"], m["cluster"], m.get("weight")
    for key in ("unit", "cluster", "weight"):
        col = m.get(key)
        if col is not None and col not in table.columns:
            raise DataValidationError(
                f"membership.{key}: column {col!r} is not in the membership table "
                f"{m['table']!r}; its columns: {list(table.columns)}"
            )
    miss = table[[unit, cluster]].isna().any(axis=1)
    if miss.any():
        raise DataValidationError(
            f"membership.table: missing unit or cluster ID in table {_rows(miss)}"
        )
    if weight is not None:
        w = table[weight].astype(float)
        for bad, what in ((w.isna(), "missing"), (w < 0, "negative")):
            if bad.any():
                raise DataValidationError(
                    f"membership.weight: {what} membership weight in table {_rows(bad)}"
                )
        zero = w.groupby(table[unit]).transform("sum") == 0  # a unit's weights sum to 0
        if zero.any():
            raise DataValidationError(
                f"membership.weight: a unit's membership weights sum to 0 in table {_rows(zero)}"
                f" (units {_few(table.loc[zero, unit].unique(), 3)})"
            )
    stray = ~table[unit].isin(units)
    if stray.any():
        raise DataValidationError(
            f"membership.unit: units unknown to the data in table {_rows(stray)} "
            f"(e.g. {_few(table.loc[stray, unit].unique(), 3)})"
        )
    if known_clusters is not None:
        unknown = ~table[cluster].isin(known_clusters)
        if unknown.any():
            raise DataValidationError(
                f"membership.cluster: clusters unknown to the data in table {_rows(unknown)} "
                f"(e.g. {_few(table.loc[unknown, cluster].unique(), 3)})"
            )
    absent = ~pd.Series(units).isin(table[unit])
    if absent.any():
        raise DataValidationError(
            f"membership.table: units with no membership: {_few(pd.Series(units)[absent], 5)} "
            f"(data {_rows(absent)})"
        )
    slots = int(m.get("slots") or 3)
    order = table.groupby(unit, sort=False).cumcount()
    over = order >= slots
    if over.any():
        raise DataValidationError(
            f"membership.slots: units with more than {slots} memberships: "
            f"{_few(table.loc[over, unit].unique(), 5)}; raise membership.slots"
        )
    w = table[weight] if weight is not None else pd.Series(1.0, index=table.index)
    name = m["name"]
    ids = table.assign(_k=order).pivot(index=unit, columns="_k", values=cluster)
    ws = table.assign(_k=order, _w=w).pivot(index=unit, columns="_k", values="_w")
    ids = ids.reindex(columns=range(slots)).set_axis(
        [f"{name}_mm{k + 1}" for k in range(slots)], axis=1
    )
    ws = (
        ws.reindex(columns=range(slots))
        .fillna(0.0)
        .set_axis([f"{name}_mmw{k + 1}" for k in range(slots)], axis=1)
    )
    wide = pd.concat([ids, ws], axis=1)
    n = table.groupby(unit).size()
    summary = {"units": int(len(n)), "clusters": int(table[cluster].nunique())}
    summary["movers"] = int((n > 1).sum())
    return wide, summary


def add_long_membership(
    raw: pd.DataFrame, table: pd.DataFrame, m: Mapping, unit_column: str
) -> tuple[pd.DataFrame, dict]:
    """``raw`` with the long table's wide membership columns joined on ``unit_column`` (a copy:
    the raw data are not modified)."""
    if unit_column not in raw.columns:
        raise DataValidationError(
            f"membership.unit: the data have no unit ID column {unit_column!r} (levels[0].id)"
        )
    wide, summary = long_to_wide(table, m, raw[unit_column])
    out = raw.merge(wide, left_on=unit_column, right_index=True, how="left")
    return out, summary


def prepare_design(raw: pd.DataFrame, spec: Mapping) -> tuple[pd.DataFrame, list[dict]]:
    """Before validation: the membership checks of a plan's ``design`` (wide columns checked in
    place; a long table read, checked and joined as wide columns); returns the data (a copy when
    joined) and the check lines for ``checks.json``."""
    m = (spec.get("design") or {}).get("membership")
    if not m:
        return raw, []
    if m.get("table"):
        try:
            table = pd.read_csv(m["table"])
        except FileNotFoundError:
            raise DataValidationError(
                f"membership.table: file {m['table']!r} not found (relative to the project)"
            ) from None
        raw, summary = add_long_membership(raw, table, m, m["unit_column"])
    else:
        summary = check_wide_membership(raw, m)
    line = (
        f"membership {m['name']!r}: {summary['units']:,} units in {summary['clusters']:,} "
        f"clusters, {summary['movers']:,} with 2+ memberships; weights "
        f"{'normalised to sum to 1 per unit' if m.get('normalise', True) else 'used as given'}"
    )
    return raw, [{"name": "membership", "status": "ok", "message": line, "details": summary}]
