"""Observation (prior) weights of a linear mixed model, with lme4's meaning.

``lmer(weights = w)``: the residual of row i has variance ``sigma^2 / w_i`` (Bates et al. 2015,
J. Stat. Softw. 67(1), sec. 3.1: the weighted residual sum of squares replaces the plain one). The
engine forms the cross-products ``[Z X y]' W [Z X y]`` with ``W = diag(w)`` and adds
``-sum(log w_i)``, the log-determinant of ``W``, to the (RE)ML deviance, so log-likelihoods are
those of the Gaussian model ``y ~ N(X beta, Z Sigma Z' + sigma^2 W^{-1})``, as lme4's ``logLik``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mlmpipe.errors import DataValidationError

#: how many offending rows an error message lists
MAX_ROWS_SHOWN = 5


def _rows_text(labels: Sequence, bad: np.ndarray) -> str:
    idx = np.flatnonzero(bad)
    shown = ", ".join(str(labels[i]) for i in idx[:MAX_ROWS_SHOWN])
    more = f" and {idx.size - MAX_ROWS_SHOWN} more" if idx.size > MAX_ROWS_SHOWN else ""
    return f"{idx.size} row(s), e.g. {shown}{more}"


def observation_weights(
    weights: str | Sequence[float] | np.ndarray | pd.Series,
    data: pd.DataFrame,
    rows: np.ndarray,
) -> tuple[np.ndarray, str]:
    """The positive finite weights of the model's ``rows`` (iloc positions into ``data``) and a
    label for messages and artifacts (the column name, or ``"<array>"``).

    ``weights`` is a column of ``data`` or an array of ``len(data)`` values (a Series is taken by
    position). Missing, non-numeric, zero, negative or infinite weights on the rows the model uses
    raise a one-line ``DataValidationError`` naming the column and example rows (data index labels).
    """
    if isinstance(weights, str):
        if weights not in data.columns:
            raise DataValidationError(f"weights: column {weights!r} is not in the data")
        label, raw = weights, data[weights]
    else:
        label = "<array>"
        values = np.asarray(weights).ravel()
        if len(values) != len(data):
            raise DataValidationError(
                f"weights: {len(values)} values for {len(data)} data rows (one weight per row)"
            )
        raw = pd.Series(values, index=data.index)
    col = raw.iloc[rows]
    labels = list(col.index)
    if not (pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype)):
        num = pd.to_numeric(col, errors="coerce")
        bad = (num.isna() & col.notna()).to_numpy()
        if pd.api.types.is_bool_dtype(col.dtype) or bad.any():
            where = _rows_text(labels, bad) if bad.any() else "boolean column"
            raise DataValidationError(
                f"weights: column {label!r} is not numeric ({where}); weights must be positive numbers"
            )
        col = num
    w = col.to_numpy(dtype=float, na_value=np.nan)
    for bad, what in (
        (np.isnan(w), "missing"),
        (np.isinf(w), "infinite"),
        (w < 0, "negative"),
        (w == 0, "zero"),
    ):
        if bad.any():
            raise DataValidationError(
                f"weights: column {label!r} has {what} values on {_rows_text(labels, bad)}; "
                "weights must be positive and finite"
            )
    return w, label


def log_det_weights(w: np.ndarray | None) -> float:
    """``sum(log w_i)`` (0 without weights): subtracted from the deviance (lme4's ``ldW``)."""
    return 0.0 if w is None else float(np.sum(np.log(w)))
