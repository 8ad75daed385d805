"""Random-effects terms as the engine sees them: grouping codes, raw columns and the theta layout.

For a term with q columns, the relative covariance factor is ``Lambda_i = I_m (x) T_i`` with ``T_i``
lower triangular; theta holds the lower triangle of ``T_i`` column by column, as in lme4
(Bates et al. 2015, J. Stat. Softw. 67(1), eq. 4). Diagonal elements are bounded below by 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from mlmpipe.engine import blocks as B
from mlmpipe.engine.membership import membership_z, weighted_crossprod
from mlmpipe.formula.terms import ReTerm


@dataclass
class ReMat:
    """One random-effects term prepared for estimation."""

    term: ReTerm
    name: str  # unique group name as lme4 prints it (``g``, ``g.1`` for repeated factors)

    def __post_init__(self) -> None:
        q = self.term.q
        rows, cols = np.tril_indices(q)
        order = np.lexsort((rows, cols))  # column-major order of the lower triangle
        self.tri_rows = rows[order]
        self.tri_cols = cols[order]
        # a multiple-membership term (engine.membership): several non-zeros per row of Z
        self.mm = self.term.membership is not None
        # a random intercept: Z_i'W Z_i and Z_i Lambda u need no products with the column
        self.ones = not self.mm and q == 1 and bool(np.all(self.term.Z[:, 0] == 1.0))
        self._Z: sp.csr_matrix | None = None

    @property
    def q(self) -> int:
        return self.term.q

    @property
    def m(self) -> int:
        return self.term.nlevels

    @property
    def ntheta(self) -> int:
        return self.q * (self.q + 1) // 2

    @property
    def nranef(self) -> int:
        return self.m * self.q

    def lower_bounds(self) -> np.ndarray:
        return np.where(self.tri_rows == self.tri_cols, 0.0, -np.inf)

    def theta_start(self) -> np.ndarray:
        return np.where(self.tri_rows == self.tri_cols, 1.0, 0.0)

    def T(self, theta: np.ndarray) -> np.ndarray:
        q = self.q
        out = np.zeros((q, q))
        out[self.tri_rows, self.tri_cols] = theta
        return out

    def Z(self) -> sp.csr_matrix:
        """The n x (m q) indicator-expanded model matrix of the term (membership-weighted for a
        multiple-membership term)."""
        t = self.term
        if self.mm:
            if self._Z is None:
                self._Z = membership_z(t)
            return self._Z
        n, q = t.Z.shape
        rows = np.repeat(np.arange(n), q)
        cols = (t.codes[:, None] * q + np.arange(q)[None, :]).ravel()
        return sp.csr_matrix((t.Z.ravel(), (rows, cols)), shape=(n, self.nranef))

    def crossprod(self, w: np.ndarray | None = None):
        """Z_i'W Z_i: a ``BlockDiag`` of the per-level blocks, or for a multiple-membership term
        (levels coupled by shared members) a dense (m q) x (m q) array."""
        if self.mm:
            return weighted_crossprod(self.Z(), self.Z(), w).toarray()
        return B.BlockDiag(self.diag_crossprod(w))

    def diag_crossprod(self, w: np.ndarray | None = None) -> np.ndarray:
        """Z_i'W Z_i as (m, q, q): the per-level blocks (every row belongs to one level); W = I
        when ``w`` (case weights, e.g. GLMM working weights) is None. Not defined for a
        multiple-membership term (see ``crossprod``)."""
        t = self.term
        q = self.q
        if self.mm:
            raise ValueError(f"term {t.group!r}: Z'Z of a membership term is not block diagonal")
        if self.ones:
            return np.bincount(t.codes, weights=w, minlength=self.m).astype(float).reshape(-1, 1, 1)
        out = np.empty((self.m, q, q))
        for a in range(q):
            for b in range(a + 1):
                zz = t.Z[:, a] * t.Z[:, b]
                v = np.bincount(t.codes, weights=zz if w is None else zz * w, minlength=self.m)
                out[:, a, b] = v
                out[:, b, a] = v
        return out


def cross_block(ri: ReMat, rj: ReMat, dense_fraction: float = 0.2, w: np.ndarray | None = None):
    """Z_i'W Z_j between two terms (W = I when ``w`` is None): sparse BSR with (q_i, q_j) blocks
    unless its fill exceeds ``dense_fraction``."""
    ti, tj = ri.term, rj.term
    qi, qj = ri.q, rj.q
    if ri.mm or rj.mm:
        M = weighted_crossprod(ri.Z(), rj.Z(), w)
        if M.nnz > dense_fraction * M.shape[0] * M.shape[1]:
            return M.toarray()
        return M.tobsr(blocksize=(qi, qj))
    rows = (ti.codes[:, None, None] * qi + np.arange(qi)[None, :, None]) + np.zeros((1, 1, qj), int)
    cols = (tj.codes[:, None, None] * qj + np.arange(qj)[None, None, :]) + np.zeros((1, qi, 1), int)
    vals = ti.Z[:, :, None] * tj.Z[:, None, :]
    if w is not None:
        vals = vals * w[:, None, None]
    M = sp.csr_matrix((vals.ravel(), (rows.ravel(), cols.ravel())), shape=(ri.nranef, rj.nranef))
    M.sum_duplicates()
    if M.nnz > dense_fraction * M.shape[0] * M.shape[1]:
        return M.toarray()
    return M.tobsr(blocksize=(qi, qj))


def unique_group_names(terms: list[ReTerm]) -> list[str]:
    """lme4's naming of repeated grouping factors: ``g``, ``g.1``, ``g.2`` (make.unique)."""
    seen: dict[str, int] = {}
    out = []
    for t in terms:
        k = seen.get(t.group, 0)
        out.append(t.group if k == 0 else f"{t.group}.{k}")
        seen[t.group] = k + 1
    return out
