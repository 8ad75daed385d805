"""Weighted cross-products ``[Z X y]' W [Z X y]`` for new weights on a fixed sparsity pattern.

A GLMM's PIRLS changes only the working weights ``W`` between iterations, never which levels
co-occur, so each off-diagonal block ``Z_j' W Z_i`` keeps the block pattern of the unweighted
``Z_j'Z_i`` the inner LMM built once. The map from every (observation, column pair) to its slot in the
stored blocks is computed once; a reweighting is then one ``bincount`` per block instead of building a
sparse matrix (Bates et al. 2015, J. Stat. Softw. 67(1), sec. 5: the update of ``L`` for new weights).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from mlmpipe.engine import blocks as B


def _slots(template, ri, rj) -> np.ndarray:
    """Flat position in ``template``'s storage of every (obs, a, b) product ``Z_i[obs, a] Z_j[obs, b]``
    (``template`` is ``Z_i' Z_j`` as BSR with (q_i, q_j) blocks, or dense)."""
    ti, tj = ri.term, rj.term
    qi, qj = ri.q, rj.q
    a = np.arange(qi)[None, :, None]
    b = np.arange(qj)[None, None, :]
    if B.is_bsr(template):
        nbc = template.shape[1] // qj
        block_rows = np.repeat(np.arange(template.shape[0] // qi), np.diff(template.indptr))
        keys = block_rows.astype(np.int64) * nbc + template.indices
        order = np.argsort(keys, kind="stable")
        obs = ti.codes.astype(np.int64) * nbc + tj.codes
        k = order[np.searchsorted(keys[order], obs)]
        return (k[:, None, None] * (qi * qj) + a * qj + b).ravel()
    ncol = template.shape[1]
    rows = ti.codes[:, None, None] * qi + a
    cols = tj.codes[:, None, None] * qj + b
    return (rows * ncol + cols).ravel()


class WeightedCrossProducts:
    """Rebuilds ``lmm.A`` for case weights ``w`` reusing the patterns of the unweighted blocks."""

    def __init__(self, lmm) -> None:
        self.rs = [lmm.reterms[i] for i in lmm.order]
        self.templates: dict[tuple[int, int], object] = {}
        self.slots: dict[tuple[int, int], np.ndarray] = {}
        self.prods: dict[tuple[int, int], np.ndarray] = {}
        for j, r in enumerate(self.rs):
            for i in range(j):
                M = lmm.A[j][i]
                if sp.issparse(M) and not B.is_bsr(M):
                    M = M.tobsr(blocksize=(r.q, self.rs[i].q))
                self.templates[(j, i)] = M
                self.slots[(j, i)] = _slots(M, r, self.rs[i])
                # None for two random intercepts: the products are all 1
                self.prods[(j, i)] = (
                    None
                    if r.ones and self.rs[i].ones
                    else (r.term.Z[:, :, None] * self.rs[i].term.Z[:, None, :]).reshape(
                        len(r.term.codes), -1
                    )
                )
        self.ZsT = [Z.T.tocsr() for Z in lmm._Zs]
        self.XY: np.ndarray | None = None  # [X z], reused: only its last column changes
        # a random intercept nested in a finer one (district in school): its weighted sums are
        # sums of the finer term's, over that term's levels instead of the n observations
        self.parent: dict[int, tuple[int, np.ndarray]] = {}
        for j, r in enumerate(self.rs):
            for i in range(j):
                par = _parent_levels(self.rs[i], r) if r.ones and self.rs[i].ones else None
                if par is not None:
                    self.parent[j] = (i, par)
                    break

    def apply(self, lmm, w: np.ndarray) -> None:
        K = len(self.rs)
        A: list[list] = [[None] * (K + 1) for _ in range(K + 1)]
        for j, r in enumerate(self.rs):
            nest = self.parent.get(j)
            if nest is None:
                A[j][j] = B.BlockDiag(r.diag_crossprod(w))
            else:  # sum of w over a coarse level = sum of the finer levels' sums
                i, par = nest
                fine = A[i][i].data.reshape(-1)
                A[j][j] = B.BlockDiag(np.bincount(par, fine, r.m).reshape(-1, 1, 1))
            for i in range(j):
                M = self.templates[(j, i)]
                if nest is not None and nest[0] == i:  # Z_j'W Z_i: one entry per level of i
                    A[j][i] = _nested_block(M, nest[1], A[i][i].data.reshape(-1))
                    continue
                prods = self.prods[(j, i)]
                vals = w if prods is None else (prods * w[:, None]).ravel()
                size = M.data.size if B.is_bsr(M) else M.size
                data = np.bincount(self.slots[(j, i)], weights=vals, minlength=size)
                if B.is_bsr(M):
                    A[j][i] = B.with_data(M, data.reshape(M.data.shape))
                else:
                    A[j][i] = data.reshape(M.shape)
        if self.XY is None or self.XY.shape[1] != lmm.X.shape[1] + 1:
            self.XY = np.column_stack([lmm.X, lmm.y])
        XY = self.XY
        XY[:, -1] = lmm.y  # X is fixed; only the working response changes
        WXY = XY * w[:, None]
        zw: list[np.ndarray] = []  # Z_j'W [X z], (m_j, p + 1)
        for j, ZT in enumerate(self.ZsT):
            nest = self.parent.get(j)
            if nest is None:
                zw.append(np.asarray(ZT @ WXY))
            else:
                i, par = nest
                m = self.rs[j].m
                src = zw[i]
                zw.append(
                    np.stack([np.bincount(par, src[:, c], m) for c in range(src.shape[1])], axis=1)
                )
        A[K] = [v.T for v in zw] + [XY.T @ WXY]
        lmm.A = A


def _parent_levels(fine, coarse) -> np.ndarray | None:
    """For a term ``coarse`` nested in ``fine`` (every level of ``fine`` within one level of
    ``coarse``), the level of ``coarse`` of each level of ``fine``; None when not nested."""
    par = np.full(fine.m, -1, dtype=np.intp)
    par[fine.term.codes] = coarse.term.codes
    if np.any(par < 0) or not np.array_equal(par[fine.term.codes], coarse.term.codes):
        return None
    return par


def _nested_block(M, par: np.ndarray, fine: np.ndarray):
    """``Z_j'W Z_i`` for term j nested in term i (intercepts): entry (par[l], l) is the sum of w
    over level l of i, the diagonal ``fine`` of ``Z_i'W Z_i``; ``M`` gives the storage."""
    if B.is_bsr(M):  # one 1x1 block per column l of M, in M's order
        return B.with_data(M, fine[M.indices].reshape(M.data.shape))
    out = np.zeros(M.shape)
    out[par, np.arange(par.size)] = fine
    return out
