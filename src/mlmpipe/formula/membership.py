"""Multiple-membership grouping factors, ``(expr | mm(g1, ..., gK, weights = cbind(w1, ..., wK)))``.

A unit (row) belongs to up to K clusters of one classification, ``g_k`` its cluster in slot k and
``w_k`` the weight of that membership (e.g. days spent in the school). The random-effects term
contributes ``sum_k w_k z_i b_{g_k}`` to the linear predictor: its ``Z`` block has one non-zero per
membership in each row instead of one (Hill & Goldstein 1998, J. Educ. Behav. Stat. 23(2);
Browne, Goldstein & Rasbash 2001, Stat. Model. 1(2); brms's ``mm()``, whose syntax this follows).

Rules:

* The clusters of all slots form one factor: the union of the observed IDs, ordered as R's
  ``factor()`` orders them (numeric IDs numerically, strings sorted).
* A slot with a missing ID and a weight of 0 or missing is empty (no membership there); a missing
  ID with a positive weight, a missing weight with an ID, a negative weight, and a row whose
  weights sum to 0 are errors naming the columns and rows.
* Weights are divided by their row sum (``scale = TRUE``, the default, as in brms); with
  ``scale = FALSE`` they are used as given. Without ``weights =`` every membership of a row gets
  weight 1 / (number of memberships), or 1 with ``scale = FALSE``.
* The same cluster named in two slots of a row gets the sum of the two weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlmpipe.errors import FormulaError
from mlmpipe.formula.evaluate import factor_from_series
from mlmpipe.formula.parse import BinOp, Call, Name, Node, deparse
from mlmpipe.formula.terms import Membership

_TRUE = {"TRUE": True, "T": True, "FALSE": False, "F": False}


@dataclass(frozen=True)
class MembershipSpec:
    """The arguments of ``mm(g1, ..., gK, weights = cbind(w1, ..., wK), scale = TRUE)``.

    Attributes:
        ids: the K columns holding the cluster IDs (one per membership slot).
        weights: the K weight columns, or None (equal weights).
        scale: divide the weights by their row sum (the default).
    """

    ids: tuple[str, ...]
    weights: tuple[str, ...] | None
    scale: bool = True

    @property
    def columns(self) -> tuple[str, ...]:
        """Every data column the term reads (IDs, then weights)."""
        return self.ids + (self.weights or ())


def is_mm(node: Node) -> bool:
    """True for a grouping expression ``mm(...)``."""
    return isinstance(node, Call) and node.func == "mm"


def _names(nodes: list[Node], what: str, where: str, formula: str) -> tuple[str, ...]:
    out = []
    for n in nodes:
        if not isinstance(n, Name):
            raise FormulaError(
                f"{what} of {where} must be column names, got {deparse(n)!r} (formula {formula!r})"
            )
        out.append(n.id)
    return tuple(out)


def membership_spec(node: Call, formula: str) -> MembershipSpec:
    """Read the arguments of an ``mm()`` grouping expression; FormulaError when malformed."""
    where = deparse(node)
    ids: list[Node] = []
    weights: tuple[str, ...] | None = None
    scale = True
    for arg in node.args:
        if isinstance(arg, BinOp) and arg.op == "=":
            key = arg.left.id if isinstance(arg.left, Name) else deparse(arg.left)
            if key == "weights":
                value = arg.right
                if not (isinstance(value, Call) and value.func == "cbind"):
                    raise FormulaError(
                        f"weights of {where} must be cbind(w1, ..., wK) (formula {formula!r})"
                    )
                weights = _names(list(value.args), "the weights", where, formula)
            elif key == "scale":
                flag = arg.right.id if isinstance(arg.right, Name) else deparse(arg.right)
                if flag not in _TRUE:
                    raise FormulaError(
                        f"scale of {where} must be TRUE or FALSE, got {flag!r} "
                        f"(formula {formula!r})"
                    )
                scale = _TRUE[flag]
            else:
                raise FormulaError(
                    f"unknown argument {key!r} of mm() in {where!r} (use weights = cbind(...) "
                    f"and scale = TRUE/FALSE; formula {formula!r})"
                )
        else:
            ids.append(arg)
    id_cols = _names(ids, "the membership IDs", where, formula)
    if len(id_cols) < 1:
        raise FormulaError(f"{where} names no ID columns (formula {formula!r})")
    if weights is not None and len(weights) != len(id_cols):
        raise FormulaError(
            f"{where}: {len(id_cols)} ID columns ({', '.join(id_cols)}) but {len(weights)} "
            f"weight columns ({', '.join(weights)}); give one weight per ID column "
            f"(formula {formula!r})"
        )
    return MembershipSpec(id_cols, weights, scale)


def _rows(mask: np.ndarray, index: pd.Index) -> str:
    bad = np.flatnonzero(mask)
    shown = ", ".join(str(index[i]) for i in bad[:5])
    more = f" and {bad.size - 5} more" if bad.size > 5 else ""
    return f"{bad.size} row(s): {shown}{more}"


def _id_levels(columns: list[pd.Series]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Codes (n, K; -1 = missing) of the IDs of all slots in one factor, and its levels."""
    stacked = pd.concat([s.reset_index(drop=True) for s in columns], ignore_index=True)
    f = factor_from_series(stacked)
    n = len(columns[0])
    return f.codes.reshape(len(columns), n).T.copy(), f.levels


def evaluate_membership(
    spec: MembershipSpec, data: pd.DataFrame, name: str, formula: str
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Codes (n, K; -1 = empty slot), weights (n, K; 0 in empty slots, scaled per ``spec``) and the
    cluster levels of a membership term on ``data`` (all rows). Errors name the columns and rows."""
    codes, levels = _id_levels([data[c] for c in spec.ids])
    n, k = codes.shape
    if spec.weights is None:
        w = (codes >= 0).astype(float)
    else:
        cols = []
        for c in spec.weights:
            s = data[c]
            if pd.api.types.is_bool_dtype(s.dtype) or not pd.api.types.is_numeric_dtype(s.dtype):
                raise FormulaError(f"weight column {c!r} of {name} is not numeric")
            cols.append(s.to_numpy(dtype=np.float64, na_value=np.nan))
        w = np.column_stack(cols)
        has_id = codes >= 0
        wnan = np.isnan(w)
        bad = ~has_id & ~wnan & (w != 0)
        if bad.any():
            r, j = np.nonzero(bad)
            raise FormulaError(
                f"{name}: a weight without a cluster ID (column {spec.weights[j[0]]!r} > 0 where "
                f"{spec.ids[j[0]]!r} is missing) in {_rows(bad.any(axis=1), data.index)}"
            )
        bad = has_id & wnan
        if bad.any():
            r, j = np.nonzero(bad)
            raise FormulaError(
                f"{name}: missing weight (column {spec.weights[j[0]]!r}) for a cluster ID in "
                f"{spec.ids[j[0]]!r} in {_rows(bad.any(axis=1), data.index)}"
            )
        bad = has_id & (w < 0)
        if bad.any():
            r, j = np.nonzero(bad)
            raise FormulaError(
                f"{name}: negative weights in column(s) "
                f"{', '.join(sorted({spec.weights[i] for i in j}))} in "
                f"{_rows(bad.any(axis=1), data.index)}"
            )
        w = np.where(has_id, w, 0.0)
        codes = np.where(w > 0, codes, -1)  # a zero weight is no membership
    total = w.sum(axis=1)
    empty = total <= 0
    if empty.any():
        what = ", ".join(spec.weights) if spec.weights else ", ".join(spec.ids)
        raise FormulaError(
            f"{name}: no membership (weights {what} sum to 0 or every ID is missing) in "
            f"{_rows(empty, data.index)}"
        )
    if spec.scale:
        w = w / total[:, None]
    return codes, w, levels


def membership_term(
    codes: np.ndarray, weights: np.ndarray, levels: tuple[str, ...]
) -> tuple[np.ndarray, tuple[str, ...], Membership]:
    """Drop clusters that no row belongs to (R's ``droplevels``) and return
    ``(primary codes, levels, Membership)``; the primary code of a row is its largest-weight
    membership (first slot on ties)."""
    used = np.zeros(len(levels), dtype=bool)
    used[codes[codes >= 0]] = True
    remap = np.cumsum(used) - 1
    codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1).astype(np.int64)
    levels = tuple(lv for lv, u in zip(levels, used, strict=True) if u)
    primary = codes[np.arange(codes.shape[0]), np.argmax(np.where(codes >= 0, weights, -1), 1)]
    return primary.astype(np.int64), levels, Membership(codes, weights)
