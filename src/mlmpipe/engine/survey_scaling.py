"""Sampling weights at each level of a two-level design: checks and level-1 scaling.

``sampling_weights={"level1": "w_student", "school": "w_school"}``: ``level1`` names the row
weight, the student's weight *conditional on its school* (w_i|j, the inverse of the within-school
inclusion probability); every other key names a grouping factor of the formula, whose weight w_j
must be constant within each of its clusters. A level without a key gets weight 1.

Scaling of the level-1 weights inside cluster j (the school weights are never rescaled; the
pseudo-likelihood estimates do not depend on their scale):

* ``none``: as given;
* ``size``: ``w_i|j * n_j / sum_i w_i|j``, summing to the cluster size (Pfeffermann, Skinner,
  Holmes, Goldstein & Rasbash 1998, JRSS B 60(1), "method 2"; Asparouhov 2006 "cluster"; Stata
  ``mixed ..., pwscale(size)``);
* ``effective``: ``w_i|j * sum_i w_i|j / sum_i w_i|j^2``, summing to Kish's effective cluster
  size ``(sum w)^2 / sum w^2`` (Pfeffermann et al. 1998 "method 1"; Stata ``pwscale(effective)``;
  Mplus ``WTSCALE = ECLUSTER``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlmpipe.engine.weights import _rows_text
from mlmpipe.errors import DataValidationError, PlanError

SCALINGS = ("none", "size", "effective")
LEVEL1 = "level1"


@dataclass(frozen=True)
class SurveyWeights:
    """Validated, scaled weights over the model's rows.

    ``w1``: (n,) level-1 weights after scaling; ``w2``: (m,) cluster weights in code order;
    ``codes``: (n,) cluster index of each row; ``labels``: the columns used per key.
    """

    group: str
    codes: np.ndarray
    w1: np.ndarray
    w2: np.ndarray
    scaling: str
    labels: dict[str, str]


def _column(data: pd.DataFrame, rows: np.ndarray, key: str, col: str) -> np.ndarray:
    where = f"sampling_weights[{key!r}]"
    if not isinstance(col, str) or col not in data.columns:
        raise DataValidationError(f"{where}: column {col!r} is not in the data")
    raw = data[col].iloc[rows]
    labels = list(raw.index)
    if pd.api.types.is_bool_dtype(raw.dtype):
        raise DataValidationError(f"{where}: column {col!r} is boolean; weights must be numbers")
    if not pd.api.types.is_numeric_dtype(raw.dtype):
        num = pd.to_numeric(raw, errors="coerce")
        bad = (num.isna() & raw.notna()).to_numpy()
        if bad.any():
            raise DataValidationError(
                f"{where}: column {col!r} is not numeric on {_rows_text(labels, bad)}; "
                "weights must be positive numbers"
            )
        raw = num
    w = raw.to_numpy(dtype=float, na_value=np.nan)
    for bad, what in (
        (np.isnan(w), "missing"),
        (np.isinf(w), "infinite"),
        (w < 0, "negative"),
        (w == 0, "zero"),
    ):
        if bad.any():
            raise DataValidationError(
                f"{where}: column {col!r} has {what} values on {_rows_text(labels, bad)}; "
                "sampling weights must be positive and finite"
            )
    return w


def scale_level1(w1: np.ndarray, codes: np.ndarray, m: int, scaling: str) -> np.ndarray:
    """Level-1 weights scaled within clusters (``none``, ``size`` or ``effective``; see module)."""
    if scaling == "none":
        return w1
    s1 = np.bincount(codes, weights=w1, minlength=m)
    if scaling == "size":
        n = np.bincount(codes, minlength=m).astype(float)
        return w1 * (n / s1)[codes]
    if scaling == "effective":
        s2 = np.bincount(codes, weights=w1 * w1, minlength=m)
        return w1 * (s1 / s2)[codes]
    raise PlanError(f"scaling: unknown value {scaling!r}; allowed: {', '.join(SCALINGS)}")


def survey_weights(
    sampling_weights: dict[str, str],
    data: pd.DataFrame,
    rows: np.ndarray,
    groups: Sequence[str],
    codes: np.ndarray,
    nlevels: int,
    scaling: str = "none",
) -> SurveyWeights:
    """Check ``sampling_weights`` against the formula's grouping factors ``groups`` (the top one
    is ``groups[0]``, with cluster ``codes`` over ``rows``) and return the scaled weights."""
    if scaling not in SCALINGS:
        raise PlanError(f"scaling: unknown value {scaling!r}; allowed: {', '.join(SCALINGS)}")
    if not isinstance(sampling_weights, dict) or not sampling_weights:
        raise PlanError(
            "sampling_weights: give a dict such as {'level1': 'w_student', 'school': 'w_school'}"
        )
    for key in sampling_weights:
        if key != LEVEL1 and key not in groups:
            raise PlanError(
                f"sampling_weights: key {key!r} is not a grouping factor of the formula "
                f"(grouping factors: {', '.join(groups)}; 'level1' names the row weight)"
            )
    group = groups[0]
    n = rows.size
    w1 = (
        _column(data, rows, LEVEL1, sampling_weights[LEVEL1])
        if LEVEL1 in sampling_weights
        else np.ones(n)
    )
    if group in sampling_weights:
        col = sampling_weights[group]
        wrow = _column(data, rows, group, col)
        lo = np.full(nlevels, np.inf)
        hi = np.full(nlevels, -np.inf)
        np.minimum.at(lo, codes, wrow)
        np.maximum.at(hi, codes, wrow)
        varies = (hi - lo) > 1e-9 * np.maximum(np.abs(hi), 1.0)
        if varies.any():
            bad = varies[codes]
            labels = list(data.index[rows])
            raise DataValidationError(
                f"sampling_weights[{group!r}]: column {col!r} varies within {int(varies.sum())} "
                f"{group} cluster(s) on {_rows_text(labels, bad)}; a level-2 weight must be "
                f"constant within each {group}"
            )
        w2 = lo
    else:
        w2 = np.ones(nlevels)
    labels = {k: str(v) for k, v in sampling_weights.items()}
    return SurveyWeights(
        group, codes, scale_level1(w1, codes, nlevels, scaling), w2, scaling, labels
    )
