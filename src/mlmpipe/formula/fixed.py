"""Model matrix of a ``TermSpec`` with R's contrasts and column names (R's ``model.matrix``).

* Unordered factors and logicals use treatment contrasts (``contr.treatment``): the first level is
  the baseline and column names are ``<label><level>`` (``sectorCatholic``, ``xTRUE``).
  Ordered factors (ordered pandas ``Categorical``) use ``contr.poly`` (``f.L``, ``f.Q``, ``f.C``,
  ``f^4``).
* A factor in a term is coded by contrasts when the term without it is the empty term or is
  contained in a preceding term (R's ``TermCode``); otherwise by one indicator per level.
  Without an intercept the first factor of the first term containing a factor gets indicators.
* An interaction's columns are the products of its variables' columns with the first variable
  (in order of appearance in the formula) varying fastest; names are joined with ``:``.
"""

from __future__ import annotations

import numpy as np

from mlmpipe.errors import FormulaError
from mlmpipe.formula.algebra import TermSpec
from mlmpipe.formula.evaluate import Factor, Value


def _is_factor(value: Value) -> bool:
    return isinstance(value, Factor) and (value.logical or len(value.levels) > 1)


def term_codings(spec: TermSpec, values: dict[str, Value]) -> list[list[bool]]:
    """For each term and each of its variables: True = contrasts, False = full indicator coding."""
    sets = [frozenset(t) for t in spec.terms]
    codings: list[list[bool]] = []
    for j, term in enumerate(spec.terms):
        row = []
        for v in term:
            rest = sets[j] - {v}
            row.append(not rest or any(rest <= sets[k] for k in range(j)))
        codings.append(row)
    if not spec.intercept:
        for j, term in enumerate(spec.terms):
            factor_pos = [p for p, v in enumerate(term) if _is_factor(values[spec.labels[v]])]
            if factor_pos:
                codings[j][factor_pos[0]] = False
                break
    return codings


def _poly_contrasts(k: int) -> np.ndarray:
    """R's ``contr.poly(k)``: orthonormal polynomial contrasts on scores 1..k."""
    scores = np.arange(1, k + 1, dtype=float)
    x = np.vander(scores - scores.mean(), k, increasing=True)
    q, r = np.linalg.qr(x)
    raw = q * np.diag(r)
    raw /= np.sqrt((raw**2).sum(axis=0))
    return raw[:, 1:]


def _poly_names(k: int) -> list[str]:
    return [(".L", ".Q", ".C")[d - 1] if d <= 3 else f"^{d}" for d in range(1, k)]


def contrast_matrix(f: Factor, contrasts: bool, label: str) -> tuple[np.ndarray, list[str]]:
    """Coding matrix (levels × columns) and column names for a factor."""
    k = len(f.levels)
    if not contrasts:
        return np.eye(k), [label + lv for lv in f.levels]
    if k < 2:
        raise FormulaError(
            f"factor {label!r} has only one level ({f.levels[0] if f.levels else 'none'!r}); "
            "contrasts need 2 or more levels"
        )
    if f.ordered:
        return _poly_contrasts(k), [label + s for s in _poly_names(k)]
    return np.eye(k)[:, 1:], [label + lv for lv in f.levels[1:]]


def _block(value: Value, contrasts: bool, label: str, n: int) -> tuple[np.ndarray, list[str]]:
    if isinstance(value, Factor):
        cmat, names = contrast_matrix(value, contrasts, label)
        padded = np.vstack([cmat, np.full((1, cmat.shape[1]), np.nan)])  # code -1 → NaN row
        return padded[value.codes], names
    if value.ndim == 2:
        if value.shape[1] == 1:
            return value, [label]
        return value, [f"{label}{i + 1}" for i in range(value.shape[1])]
    return value.reshape(n, 1), [label]


def model_matrix(
    spec: TermSpec, values: dict[str, Value], n: int
) -> tuple[np.ndarray, tuple[str, ...], tuple[int, ...]]:
    """X (n, p), its column names and R's ``assign`` (term index per column, 0 = intercept)."""
    blocks: list[np.ndarray] = []
    names: list[str] = []
    assign: list[int] = []
    if spec.intercept:
        blocks.append(np.ones((n, 1)))
        names.append("(Intercept)")
        assign.append(0)
    for j, (term, coding) in enumerate(zip(spec.terms, term_codings(spec, values), strict=True)):
        mat, cols = None, None
        for v, contrasts in zip(term, coding, strict=True):
            label = spec.labels[v]
            block, bnames = _block(values[label], contrasts, label, n)
            if mat is None:
                mat, cols = block, bnames
            else:
                mat = (mat[:, :, None] * block[:, None, :]).reshape(n, -1, order="F")
                cols = [f"{a}:{b}" for b in bnames for a in cols]
        blocks.append(mat)
        names.extend(cols)
        assign.extend([j + 1] * len(cols))
    x = np.hstack(blocks) if blocks else np.empty((n, 0))
    return np.ascontiguousarray(x, dtype=np.float64), tuple(names), tuple(assign)
