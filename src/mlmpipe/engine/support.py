"""Checks that a GLMM response lies in its family's support, and the (y, prior weight) encoding.

Errors are one line naming the response and up to five example data rows (0-based positions in the
data frame given to ``fit``), as every bad-input error of mlmpipe.
"""

from __future__ import annotations

import numpy as np

from mlmpipe.engine.separation import separation_message
from mlmpipe.errors import DataValidationError


def _rows(design, bad: np.ndarray) -> str:
    idx = np.asarray(design.rows)[np.flatnonzero(bad)[:5]]
    more = int(bad.sum()) - len(idx)
    return ", ".join(str(int(i)) for i in idx) + (f" (and {more} more)" if more > 0 else "")


def response_and_weights(design, family: str) -> tuple[np.ndarray, np.ndarray]:
    """``(y, wt)``: binomial proportions and trials (``cbind(successes, failures)`` or 0/1),
    or counts with unit weights; raises ``DataValidationError`` outside the support."""
    y = np.asarray(design.y, float)
    name = design.response
    if family == "binomial":
        if y.ndim == 2:
            s, f = y[:, 0], y[:, 1]
            bad = (s < 0) | (s != np.round(s))
            if bad.any():
                raise DataValidationError(
                    f"response {name}: successes must be non-negative integers; rows {_rows(design, bad)}"
                )
            bad = (f < 0) | (f != np.round(f))
            if bad.any():
                raise DataValidationError(
                    f"response {name}: failures must be non-negative integers (trials < successes?); "
                    f"rows {_rows(design, bad)}"
                )
            wt = s + f
            return np.divide(s, wt, out=np.zeros_like(s), where=wt > 0), wt
        bad = (y != 0) & (y != 1)
        if bad.any():
            raise DataValidationError(
                f"response {name}: a binomial outcome must be 0/1, a two-level factor or "
                f"cbind(successes, failures); values {sorted(set(y[bad].tolist()))[:5]} in rows "
                f"{_rows(design, bad)}"
            )
        return y, np.ones_like(y)
    if y.ndim != 1:
        raise DataValidationError(f"response {name}: family {family!r} needs a single column")
    if family in ("poisson", "negbin"):
        bad = (y < 0) | (y != np.round(y))
        if bad.any():
            raise DataValidationError(
                f"response {name}: counts must be non-negative integers; rows {_rows(design, bad)}"
            )
        return y, np.ones_like(y)
    if family == "ordinal":
        codes, _ = ordinal_response(design)
        return codes.astype(float), np.ones(codes.size)
    raise DataValidationError(f"family {family!r}: no support check defined")


def _is_increasing_numbers(labels) -> bool:
    try:
        v = [float(x) for x in labels]
    except ValueError:
        return False
    return all(a < b for a, b in zip(v[:-1], v[1:], strict=False))


def ordinal_response(design) -> tuple[np.ndarray, tuple]:
    """``(codes 0..K-1, categories)`` of an ordinal response, in the response's own order.

    A numeric response has its sorted distinct values as categories. A categorical response (a
    pandas ``Categorical``) keeps its declared order when it is ordered (``ordered=True``, as an R
    ordered factor) or when its labels are numbers in increasing order; unordered text labels are
    an error asking for an order, and so is a declared category with no observations (its
    threshold would not be identified; ``ordinal::clmm`` fails there too)."""
    name = design.response
    yf = design.y_factor
    if yf is None:
        y = np.asarray(design.y, float)
        if y.ndim != 1:
            raise DataValidationError(f"response {name}: family 'ordinal' needs a single column")
        cats = np.unique(y)
        codes, labels = np.searchsorted(cats, y), tuple(cats.tolist())
    else:
        labels = tuple(yf.levels)
        if not (yf.ordered or yf.logical or _is_increasing_numbers(labels)):
            raise DataValidationError(
                f"response {name}: an ordinal outcome needs ordered categories, got unordered "
                f"{list(labels)[:6]}; give the order as an ordered pandas Categorical "
                f"(pd.Categorical(x, categories=[...], ordered=True))"
            )
        codes = np.asarray(yf.codes)
        counts = np.bincount(codes, minlength=len(labels))
        empty = [lab for lab, c in zip(labels, counts, strict=True) if c == 0]
        if empty:
            raise DataValidationError(
                f"response {name}: ordinal categor{'ies' if len(empty) > 1 else 'y'} "
                f"{', '.join(repr(e) for e in empty)} ha{'ve' if len(empty) > 1 else 's'} no "
                f"observations; drop or merge {'them' if len(empty) > 1 else 'it'} "
                f"(categories in order: {list(labels)})"
            )
    if len(labels) < 2:
        raise DataValidationError(
            f"response {name}: an ordinal outcome needs at least two observed categories, "
            f"found {list(labels)}"
        )
    return codes, labels


def separation_warnings(X: np.ndarray, names, y: np.ndarray, wt: np.ndarray) -> list[str]:
    """Quasi-complete separation by a 0/1 column of X: every response with the indicator on is
    0 (or every one is 1), so the coefficient's estimate runs off to infinity (Albert & Anderson
    1984, Biometrika 71(1)). Returns one message per separating column, then one for a separating
    combination of any columns, continuous ones included, that involves other predictors
    (linear-programming check, ``engine/separation.py``)."""
    out, flagged = [], []
    succ = y * wt
    for j, nm in enumerate(names):
        x = X[:, j]
        if nm == "(Intercept)" or not np.all((x == 0) | (x == 1)) or x.sum() == 0:
            continue
        on = (x == 1) & (wt > 0)
        if not on.any():
            continue
        s, n = succ[on].sum(), wt[on].sum()
        if s == 0 or s == n:
            outcome = "0" if s == 0 else "1"
            out.append(
                f"quasi-complete separation: every response with {nm} = 1 is {outcome}; "
                f"its estimate and SE are not finite in truth"
            )
            flagged.append(nm)
    msg = separation_message(X, names, succ, (1 - y) * wt, skip=flagged)
    return out + ([msg] if msg else [])
