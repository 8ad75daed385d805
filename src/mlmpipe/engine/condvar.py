"""Conditional covariances of the random effects, ``Var(b | y) = sigma^2 Lambda (L L')^{-1} Lambda'``
(lme4's ``condVar``), per level of each term, without forming ``(L L')^{-1}``.

For term j the needed blocks are the per-level diagonal blocks of ``Y' Y`` where ``Y`` is block
column j of ``L^{-1}``: ``Y_j = L_jj^{-1}`` and ``Y_i = -L_ii^{-1} sum_{j<=m<i} L_im Y_m`` for the
later terms. Nested designs keep every ``Y_i`` sparse; crossed designs make the later ones dense.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from mlmpipe.engine import blocks as B

#: largest dense intermediate (number of entries) we are willing to form
DENSE_LIMIT = 60_000_000


def _left_solve(L, M):
    """``L^{-1} M`` for lower-triangular ``L`` (BlockDiag or dense); M BlockDiag, BSR or dense."""
    if isinstance(L, B.BlockDiag):
        inv = L.inv_lower()
        if isinstance(M, B.BlockDiag):
            return B.BlockDiag(np.matmul(inv, M.data))
        if sp.issparse(M):
            if not (B.is_bsr(M) and M.blocksize[0] == L.q):
                M = M.tocsr().tobsr(blocksize=(L.q, 1))
            rowblk = np.repeat(np.arange(L.m), np.diff(M.indptr))
            return B.with_data(M, np.matmul(inv[rowblk], M.data))
        c = M.shape[1]
        return np.matmul(inv, M.reshape(L.m, L.q, c)).reshape(L.m * L.q, c)
    return sla.solve_triangular(L, B.to_dense(M), lower=True, check_finite=False)


def _product(A, Y):
    """``A @ Y`` for A (BSR or dense) and Y (BlockDiag, BSR or dense)."""
    if isinstance(Y, B.BlockDiag):
        if sp.issparse(A) and not (B.is_bsr(A) and A.blocksize[1] == Y.q):
            # e.g. a CSR product of two earlier terms (three or more terms): blocks of Y.q columns
            A = A.tocsr().tobsr(blocksize=(1, Y.q))
        if B.is_bsr(A):  # block k of A in column block A.indices[k]
            return B.with_data(A, np.matmul(A.data, Y.data[A.indices]))
        r = A.shape[0]
        return B.batched_rmatmul_t(A.reshape(r, Y.m, Y.q), np.swapaxes(Y.data, 1, 2)).reshape(
            r, Y.m * Y.q
        )
    if sp.issparse(A) and sp.issparse(Y):
        return (A @ Y).tocsr()
    if sp.issparse(A):
        return np.asarray(A @ Y)
    if sp.issparse(Y):
        return np.asarray((Y.T @ A.T).T)
    return A @ Y


def _colblock_grams(Y, m: int, q: int) -> np.ndarray:
    """Per column block l of Y (m blocks of q columns): ``Y[:, l]' Y[:, l]`` as (m, q, q)."""
    if isinstance(Y, B.BlockDiag):
        return np.matmul(np.swapaxes(Y.data, 1, 2), Y.data)
    if sp.issparse(Y):
        Yb = Y if (B.is_bsr(Y) and Y.blocksize[1] == q) else Y.tocsr().tobsr(blocksize=(1, q))
        grams = np.matmul(np.swapaxes(Yb.data, 1, 2), Yb.data)
        out = np.zeros((m, q, q))
        np.add.at(out, Yb.indices, grams)
        return out
    Y3 = Y.reshape(Y.shape[0], m, q)
    return np.einsum("rla,rlb->lab", Y3, Y3)


def _add(a, b):
    if a is None:
        return b
    if sp.issparse(a) and sp.issparse(b):
        return (a.tocsr() + b.tocsr()).tocsr()
    return B.to_dense(a) + B.to_dense(b)


def spherical_condvar(L: list, sizes: list[tuple[int, int]]) -> list[np.ndarray] | None:
    """Per-level diagonal blocks of ``(L_theta L_theta')^{-1}`` for each term (internal order).

    ``sizes`` holds (m, q) per term. Returns None when a dense intermediate would exceed
    ``DENSE_LIMIT`` entries.
    """
    K = len(sizes)
    out = []
    for j in range(K):
        m, q = sizes[j]
        Ljj = L[j][j]
        if isinstance(Ljj, B.BlockDiag):
            Y = {j: B.BlockDiag(Ljj.inv_lower())}
        else:
            Y = {j: sla.solve_triangular(Ljj, np.eye(Ljj.shape[0]), lower=True, check_finite=False)}
        total = _colblock_grams(Y[j], m, q)
        for i in range(j + 1, K):
            acc = None
            for mm in range(j, i):
                acc = _add(acc, _product(L[i][mm], Y[mm]))
            if not sp.issparse(acc) and np.asarray(acc).size > DENSE_LIMIT:
                return None
            Yi = _left_solve(L[i][i], acc)
            Yi = -Yi if not isinstance(Yi, B.BlockDiag) else B.BlockDiag(-Yi.data)
            Y[i] = Yi
            total = total + _colblock_grams(Yi, m, q)
        out.append(total)
    return out
