"""Checks and preparation of the survey columns of the raw data (the plan's ``survey:`` section).

Sampling weights must be positive numbers on every row; the weight of a level above the first is a
property of its cluster and must be constant within it (Pfeffermann et al. 1998). Plausible-value
columns must all be present and numeric. Each failure stops with a one-line
:class:`DataValidationError` naming the plan key, the column and example rows (1-based data rows).

:func:`prepare_survey_columns` copies the first plausible value of each variable into its analysed
column (the missing step writes the k-th value into the k-th data sets) and, for a total level-1
weight, derives the conditional one ``w_i|j = w_ij / w_j`` into :data:`CONDITIONAL_WEIGHT`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from mlmpipe.errors import DataValidationError

#: Column of the derived conditional level-1 weight (``level1_weight: total``).
CONDITIONAL_WEIGHT = "_w_level1_conditional"


def _few(values, k: int = 4) -> str:
    vals = list(values)
    shown = ", ".join(str(v) for v in vals[:k])
    return shown + (f", ... ({len(vals)} in all)" if len(vals) > k else "")


def _rows(mask) -> str:
    return "rows " + _few(np.flatnonzero(np.asarray(mask)) + 1)


def _numeric(raw: pd.DataFrame, col: str, key: str) -> pd.Series:
    """The column as numbers; a value that is not a number stops with its rows."""
    if col not in raw.columns:
        raise DataValidationError(f"{key}: column {col!r} is not in the data")
    values = raw[col]
    num = pd.to_numeric(values, errors="coerce")
    bad = num.isna() & values.notna() & (values.astype(str).str.strip() != "")
    if bad.any():
        shown = _few(repr(v) for v in values[bad].tolist())
        raise DataValidationError(
            f"{key}: column {col!r} is not numeric ({_rows(bad)} hold {shown})"
        )
    return num


def check_weight(raw: pd.DataFrame, col: str, key: str, cluster: str | None) -> None:
    """A sampling-weight column: present, numeric, observed, positive, constant in ``cluster``."""
    w = _numeric(raw, col, key)
    if w.isna().any():
        raise DataValidationError(
            f"{key}: column {col!r} is missing in {_rows(w.isna())}; every row needs a weight"
        )
    bad = ~np.isfinite(w) | (w <= 0)
    if bad.any():
        raise DataValidationError(
            f"{key}: column {col!r} must be positive; {_rows(bad)} hold {_few(w[bad].tolist())}"
        )
    if cluster is not None and cluster in raw.columns:
        spread = w.groupby(raw[cluster]).transform(lambda s: s.max() - s.min())
        varies = spread > 1e-9 * w.abs().max()
        if varies.any():
            first = raw.loc[varies, cluster].iloc[0]
            rows = varies & (raw[cluster] == first)
            raise DataValidationError(
                f"{key}: column {col!r} varies within {cluster} {first!r} ({_rows(rows)} hold "
                f"{_few(sorted(set(w[rows].tolist())))}); a cluster's weight is one number"
            )


def check_survey_columns(raw: pd.DataFrame, survey: Mapping, levels: list[Mapping]) -> None:
    """Check the weight and plausible-value columns named by the validate slice's ``survey``
    entry (``weights``: level name -> column; ``plausible_values``: analysed column -> columns;
    ``pv_keys``: analysed column -> its plan key); ``levels`` as in the slice."""
    ids = {lv["name"]: lv["id"] for lv in levels}
    first = levels[0]["name"]
    for level, col in survey.get("weights", {}).items():
        check_weight(raw, col, f"survey.weights.{level}", None if level == first else ids[level])
    for target, cols in survey.get("plausible_values", {}).items():
        key = survey.get("pv_keys", {}).get(target, f"survey.plausible_values.{target}")
        absent = [c for c in cols if c not in raw.columns]
        if absent:
            raise DataValidationError(
                f"{key}: plausible-value column(s) {_few(map(repr, absent))} not in the data "
                f"({len(cols) - len(absent)} of {len(cols)} present)"
            )
        for c in cols:
            _numeric(raw, c, key)


def prepare_survey_columns(raw: pd.DataFrame, survey: Mapping) -> pd.DataFrame:
    """The raw data with each analysed PV variable holding its first plausible value and, for a
    total level-1 weight, the conditional weight in :data:`CONDITIONAL_WEIGHT`."""
    out = raw.copy()
    for target, cols in survey.get("plausible_values", {}).items():
        for c in cols:
            out[c] = pd.to_numeric(out[c], errors="coerce")
        out[target] = out[cols[0]]
    weights = dict(survey.get("weights", {}))
    for col in weights.values():
        out[col] = pd.to_numeric(out[col], errors="coerce")
    if survey.get("level1_weight") == "total":
        level1, level2 = survey["level1_level"], survey["level2_level"]
        out[CONDITIONAL_WEIGHT] = out[weights[level1]] / out[weights[level2]]
    return out


def survey_columns(survey: Mapping) -> list[str]:
    """Columns the cleaned data keeps for the survey (weights, derived weight, all PVs)."""
    cols = list(survey.get("weights", {}).values())
    if survey.get("level1_weight") == "total":
        cols.append(CONDITIONAL_WEIGHT)
    for pvs in survey.get("plausible_values", {}).values():
        cols.extend(pvs)
    return list(dict.fromkeys(cols))
