"""Nested units for imputation (two or three levels) and a Gibbs step with nested random intercepts.

:class:`Hierarchy` maps the rows (level 1) to their units at every higher level (classes at level
2, schools at level 3) and checks that the units are nested. The chained-equation sampler
(:mod:`mlmpipe.missing.mi_chained`) imputes a variable of level ``t`` on the units of level ``t``
with

* the values of the variables of level ``t`` and above (broadcast down to level ``t``),
* the means at level ``t`` of the variables below ``t`` (a class-level model uses the class means of
  the student variables),
* the means at every level above ``t`` of every variable below that level (a student-level model of
  three-level data uses the class and the school means of the other student variables and the
  school means of the class variables),
* random intercepts for every level above ``t`` (:func:`draw_ml_norm`); the top level has none.

This is the three-level extension of the two-level ``2l.pan``/``2lonly`` scheme: cluster means at
each level keep the within- and between-cluster relations apart at both levels (Enders, Mistler &
Keller 2016; Lüdtke, Robitzsch & Grund 2017, "Multiple imputation of missing data in multilevel
designs: a comparison of different strategies", Psychological Methods 22; Keller & Enders 2021 on
three-level imputation in Blimp). Imputing three-level data with a two-level model (ignoring the
schools) shrinks the school-level variance of the imputed variable; the test
``tests/missing/test_mi_three_level.py`` measures this.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlmpipe.errors import DataValidationError
from mlmpipe.missing.mi_models import _beta_draw


@dataclass(frozen=True)
class Hierarchy:
    """Index maps of nested units. ``ids[k]`` is the ID column of level ``k + 2``;
    ``sizes[l - 1]`` the number of units at level ``l`` (``sizes[0]`` = rows);
    ``up[(a, b)]`` maps each unit of level ``a`` to its unit at level ``b > a``."""

    ids: tuple[str, ...]
    sizes: tuple[int, ...]
    up: dict

    @property
    def L(self) -> int:
        return len(self.sizes)

    def down(self, a: np.ndarray, level: int, to: int) -> np.ndarray:
        """Values of units at ``level`` repeated for each unit of the lower level ``to``."""
        return a if level == to else a[self.up[(to, level)]]

    def means(self, a: np.ndarray, level: int, to: int) -> np.ndarray:
        """Means of ``a`` (units of ``level``, 1-D or columns) over the units of ``to > level``."""
        idx = self.up[(level, to)]
        J = self.sizes[to - 1]
        cnt = np.bincount(idx, minlength=J).astype(float)
        cnt[cnt == 0] = 1.0
        a2 = a[:, None] if a.ndim == 1 else a
        out = (
            np.stack(
                [np.bincount(idx, weights=a2[:, k], minlength=J) for k in range(a2.shape[1])], 1
            )
            / cnt[:, None]
        )
        return out[:, 0] if a.ndim == 1 else out

    def groups(self, level: int) -> list[np.ndarray]:
        """Random-intercept groupings of the units of ``level``: one per higher level."""
        return [self.up[(level, h)] for h in range(level + 1, self.L + 1)]


def build_hierarchy(df: pd.DataFrame, ids: tuple[str, ...]) -> Hierarchy:
    """Factorize the ID columns (level 2 first) and check that every unit has one parent."""
    codes = []
    for col in ids:
        if df[col].isna().any():
            raise DataValidationError(
                f"missing: ID column {col!r} has {int(df[col].isna().sum())} missing value(s); "
                "IDs cannot be imputed"
            )
        codes.append(pd.factorize(df[col], sort=True)[0])
    n = len(df)
    sizes = [n] + [int(c.max()) + 1 if len(c) else 0 for c in codes]
    up: dict = {}
    for k, c in enumerate(codes):
        up[(1, k + 2)] = c
    for a in range(2, len(sizes)):
        child = codes[a - 2]
        for b in range(a + 1, len(sizes) + 1):
            parent = codes[b - 2]
            first = np.full(sizes[a - 1], -1)
            first[child[::-1]] = parent[::-1]  # parent of each child unit (its first row)
            bad = first[child] != parent
            if b == a + 1 and bad.any():
                cid = df[ids[a - 2]].to_numpy()[np.flatnonzero(bad)[0]]
                n_bad = len(np.unique(child[bad]))
                raise DataValidationError(
                    f"missing: units of ID column {ids[a - 2]!r} are not nested in "
                    f"{ids[b - 2]!r}: {n_bad} of them (e.g. {cid!r}) occur in more than one "
                    f"{ids[b - 2]!r} unit; make the IDs unique within each parent"
                )
            up[(a, b)] = first
    return Hierarchy(tuple(ids), tuple(sizes), up)


@dataclass
class MultiLevelState:
    """Sampler state of one nested random-intercept model: one intercept vector per higher level."""

    u: list
    sigma2: float
    tau2: list


def init_ml_state(x_obs: np.ndarray, n_units: list[int], sigma2: float | None = None):
    v = float(np.var(x_obs)) if len(x_obs) > 1 else 1.0
    v = v if v > 0 else 1.0
    s2 = 0.8 * v if sigma2 is None else sigma2
    return MultiLevelState(
        [np.zeros(J) for J in n_units], s2, [0.2 * v / max(len(n_units), 1)] * len(n_units)
    )


def draw_ml_norm(
    x: np.ndarray,
    X: np.ndarray,
    groups: list[np.ndarray],
    obs: np.ndarray,
    state: MultiLevelState,
    rng: np.random.Generator,
    fixed_sigma2: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One Gibbs sweep of ``x = X beta + sum_h u_h[g_h] + e`` with nested random intercepts
    ``u_h ~ N(0, tau2_h)`` and ``e ~ N(0, sigma2)``: ``beta | u`` (flat prior), each ``u_h | beta,
    u_other`` (conjugate normal), ``sigma2`` and each ``tau2_h`` (scaled inverse chi-square with the
    same weak prior as :func:`~mlmpipe.missing.mi_models.draw_2l_norm`); then draws for the missing
    rows. ``fixed_sigma2`` keeps ``sigma2`` (1 for the latent variables of probit models).
    Returns (draws for ``~obs``, linear predictor of all rows, beta); ``state`` is updated."""
    xo, Xo = x[obs], X[obs]
    go = [gr[obs] for gr in groups]

    def others(skip: int) -> np.ndarray:
        out = np.zeros(len(xo))
        for h, gr in enumerate(go):
            if h != skip:
                out += state.u[h][gr]
        return out

    beta, _ = _beta_draw(Xo, xo - others(-1), state.sigma2, rng)
    fit = Xo @ beta
    for h, gr in enumerate(go):
        J = len(state.u[h])
        e = xo - fit - others(h)
        n_j = np.bincount(gr, minlength=J).astype(float)
        s_j = np.bincount(gr, weights=e, minlength=J)
        prec = n_j / state.sigma2 + 1.0 / state.tau2[h]
        state.u[h] = s_j / state.sigma2 / prec + rng.standard_normal(J) / np.sqrt(prec)
    resid = xo - fit - others(-1)
    if not fixed_sigma2:
        state.sigma2 = float(resid @ resid / rng.chisquare(len(xo)))
    for h in range(len(groups)):
        u = state.u[h]
        state.tau2[h] = float((u @ u + 1e-4 * state.sigma2) / rng.chisquare(len(u) + 1))
    eta = X @ beta
    for h, gr in enumerate(groups):
        eta = eta + state.u[h][gr]
    mis = ~obs
    draws = eta[mis] + np.sqrt(state.sigma2) * rng.standard_normal(int(mis.sum()))
    return draws, eta, beta


def random_part(state, groups: list[np.ndarray], rows: np.ndarray) -> np.ndarray:
    """Sum of the current random intercepts of ``rows`` (two-level or nested state)."""
    if isinstance(state, MultiLevelState):
        return sum(state.u[h][gr[rows]] for h, gr in enumerate(groups))
    return state.u[groups[0][rows]]
