"""Complete and quasi-complete separation of a binary response by any linear combination of the
fixed-effects columns, found by linear programming.

The maximum-likelihood estimate of a logistic (or probit, cloglog) regression exists only if no
direction ``d != 0`` in coefficient space keeps every success on one side and every failure on the
other: ``x_i'd >= 0`` for all rows with a success and ``x_i'd <= 0`` for all rows with a failure,
with ``x_i'd != 0`` for at least one row (Albert & Anderson 1984, Biometrika 71(1); Santner & Duffy
1986, Biometrika 73(3)). Along such a ``d`` the log-likelihood increases to its supremum, so the
estimates of the coefficients that ``d`` involves run off to infinity and their Wald SEs are
meaningless. With random effects the penalty keeps the modes finite, but the fixed effects diverge
just the same.

Following Konis (2007, DPhil thesis, Oxford; R's ``safeBinaryRegression`` and ``detectseparation``),
the check solves the linear program

    maximize  sum_{successes} x_i'd - sum_{failures} x_i'd
    subject to  x_i'd >= 0 (success rows), x_i'd <= 0 (failure rows), -1 <= d_j <= 1,

on the columns of X scaled to a maximum absolute value of 1. Its optimum is 0 exactly when the data
overlap; a positive optimum gives a separating direction, whose non-zero components name the
predictors. A row with both successes and failures (binomial trials) contributes both
constraints, so it forces ``x_i'd = 0``. A row-weight of zero contributes none.
"""

from __future__ import annotations

import numpy as np

MARGIN = 1e-6  # a row is strictly on its side when |x_i'd| exceeds this (X scaled to max |x| = 1)
FEAS = 1e-6  # constraint violation tolerated when checking the solver's direction
CHUNK = 4000  # rows per round of constraint generation


def _solve(rows: np.ndarray) -> np.ndarray | None:
    """The LP on constraint rows ``r`` (``r'd >= 0``), maximizing ``sum r'd``; the optimal ``d``,
    or None when the optimum is 0 (no separating direction among these rows)."""
    from scipy.optimize import linprog  # deferred for start-up time (0.25 s): GLMMs only

    res = linprog(
        -rows.sum(axis=0),
        A_ub=-rows,
        b_ub=np.zeros(rows.shape[0]),
        bounds=[(-1.0, 1.0)] * rows.shape[1],
        method="highs",
    )
    if res.status != 0 or -res.fun <= MARGIN:
        return None
    return np.asarray(res.x, float)


def _min_margin(rows: np.ndarray, active: np.ndarray) -> float:
    """The largest ``t`` with ``r'd >= t`` for every row (``|d_j| <= 1``): positive exactly under
    complete separation. Constraint generation as in ``separating_direction``."""
    from scipy.optimize import linprog  # deferred for start-up time (0.25 s): GLMMs only

    active = active.copy()
    p = rows.shape[1]
    while True:
        sub = rows[active]
        res = linprog(
            np.r_[np.zeros(p), -1.0],
            A_ub=np.column_stack([-sub, np.ones(sub.shape[0])]),
            b_ub=np.zeros(sub.shape[0]),
            bounds=[(-1.0, 1.0)] * p + [(0.0, 1.0)],
            method="highs",
        )
        d, t = np.asarray(res.x[:p], float), float(res.x[p])
        margins = rows @ d
        extra = np.flatnonzero((margins < t - FEAS) & ~active)
        if extra.size == 0:
            return float(margins.min())
        active[extra[np.argsort(margins[extra])][:CHUNK]] = True


def separating_direction(X: np.ndarray, successes: np.ndarray, failures: np.ndarray):
    """A separating direction ``d`` (on the scale of ``X``'s columns) and whether the separation is
    complete, or ``None`` when successes and failures overlap.

    ``successes``/``failures``: per-row counts (or 0/1 indicators) of each outcome. Large data are
    checked by constraint generation: the LP is solved on a subset of rows (a stride sample);
    if the subset already overlaps and its rows span the columns, so does the whole; if the
    subset's direction violates rows outside it, the most violated rows join the subset and the
    LP is solved again; a direction that satisfies every row is a separating direction of all."""
    X = np.asarray(X, float)
    s_on, f_on = np.asarray(successes) > 0, np.asarray(failures) > 0
    if X.shape[1] == 0 or not (s_on | f_on).any():
        return None
    scale = np.max(np.abs(X), axis=0)
    scale[scale == 0] = 1.0
    Xs = X / scale
    rows = np.concatenate([Xs[s_on], -Xs[f_on]])  # one constraint row per (row, side)
    n, p = rows.shape
    active = np.zeros(n, dtype=bool)
    active[np.linspace(0, n - 1, min(n, CHUNK)).astype(int)] = True
    while True:
        d = _solve(rows[active])
        if d is None:
            if active.all():
                return None
            sub = rows[active]
            ev, vec = np.linalg.eigh(sub.T @ sub)
            null = vec[:, ev <= 1e-12 * max(ev.max(), 1.0)].T
            if null.shape[0] == 0:  # the subset spans the columns: no direction at all
                return None
            # rank-deficient subset (e.g. a rare indicator not sampled): add the rows that
            # reach outside its span, largest reach first
            reach = np.linalg.norm(rows @ null.T, axis=1)
            extra = np.flatnonzero((reach > 1e-10) & ~active)
            if extra.size == 0:  # no row outside the span: the remaining columns are all zero
                return None
            extra = extra[np.argsort(-reach[extra])]
        else:
            margins = rows @ d
            extra = np.flatnonzero((margins < -FEAS) & ~active)
            if extra.size == 0:  # every row on its side (active ones to the LP's tolerance)
                if margins.max() <= MARGIN:
                    return None
                d[np.abs(d) <= MARGIN] = 0.0
                return d / scale, _min_margin(rows, active) > MARGIN
            extra = extra[np.argsort(margins[extra])]
        active[extra[:CHUNK]] = True  # the subset grows every round, so the loop ends


def separation_message(X: np.ndarray, names, successes, failures, skip=()) -> str | None:
    """One warning naming the predictors of a separating direction (None if there is none, or if
    every predictor it involves is in ``skip``, e.g. already reported as a separating indicator)."""
    found = separating_direction(X, successes, failures)
    if found is None:
        return None
    d, complete = found
    involved = [nm for nm, v in zip(names, d, strict=True) if v != 0 and nm != "(Intercept)"]
    if not involved:
        return (
            "separation: the responses are all 0 or all 1; the intercept's estimate is not "
            "finite in truth"
        )
    if set(involved) <= set(skip):
        return None
    kind = "complete" if complete else "quasi-complete"
    return (
        f"{kind} separation (linear-programming check, Konis 2007): a linear combination of "
        f"{', '.join(involved)} separates the 0 and 1 responses; their estimates and SEs are "
        f"not finite in truth (consider a penalized or Bayesian fit, or dropping the predictor)"
    )
