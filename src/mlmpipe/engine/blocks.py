"""Block types of the blocked Cholesky factor and the few operations the factorization needs.

A block of ``L`` is one of
- ``BlockDiag``: a block-diagonal matrix stored as an (m, q, q) array (one q x q block per level of a
  grouping factor), the form of the first random-effects term's diagonal block and of every nested
  term's diagonal block;
- a ``scipy.sparse`` CSR matrix (off-diagonal blocks between grouping factors);
- a dense ``numpy`` array (crossed terms after fill-in; the fixed-effects rows).

The operations keep the cheapest form that is exact: sparse stays sparse under products with
block-diagonal factors, and a block only becomes dense when fill-in forces it (MixedModels.jl uses the
same idea; Bates et al. 2015, J. Stat. Softw. 67(1), section 3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp


@dataclass
class BlockDiag:
    """Block-diagonal matrix with ``m`` blocks of size ``q x q``: ``data[l]`` is block ``l``."""

    data: np.ndarray

    @property
    def m(self) -> int:
        return self.data.shape[0]

    @property
    def q(self) -> int:
        return self.data.shape[1]

    @property
    def shape(self) -> tuple[int, int]:
        n = self.m * self.q
        return (n, n)

    def copy(self) -> BlockDiag:
        return BlockDiag(self.data.copy())

    def toarray(self) -> np.ndarray:
        m, q = self.m, self.q
        out = np.zeros((m, q, m, q))
        idx = np.arange(m)
        out[idx, :, idx, :] = self.data
        return out.reshape(m * q, m * q)

    def tosparse(self) -> sp.csr_matrix:
        m, q = self.m, self.q
        return sp.bsr_matrix(
            (self.data, np.arange(m), np.arange(m + 1)), shape=(m * q, m * q)
        ).tocsr()

    def logdet_chol(self) -> float:
        """log det of the factor (sum of log diagonal), for a Cholesky factor."""
        return float(np.sum(np.log(np.diagonal(self.data, axis1=1, axis2=2))))

    def inv_lower(self) -> np.ndarray:
        """Inverses of the lower-triangular blocks, (m, q, q)."""
        return batched_inv_lower(self.data)


def batched_inv_lower(Ls: np.ndarray) -> np.ndarray:
    """Inverses of m lower-triangular q x q matrices; closed form for q <= 2 (LAPACK per matrix
    is dominated by call overhead at these sizes)."""
    q = Ls.shape[1]
    if q == 1:
        return 1.0 / Ls
    if q == 2:
        out = np.zeros_like(Ls)
        a, c, d = Ls[:, 0, 0], Ls[:, 1, 0], Ls[:, 1, 1]
        out[:, 0, 0] = 1.0 / a
        out[:, 1, 1] = 1.0 / d
        out[:, 1, 0] = -c / (a * d)
        return out
    return np.linalg.inv(Ls)


def batched_cholesky(D: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors of m symmetric positive-definite q x q matrices (closed form q <= 2)."""
    q = D.shape[1]
    if q == 1:
        return np.sqrt(D)
    if q == 2:
        out = np.zeros_like(D)
        a = np.sqrt(D[:, 0, 0])
        c = D[:, 1, 0] / a
        out[:, 0, 0] = a
        out[:, 1, 0] = c
        out[:, 1, 1] = np.sqrt(D[:, 1, 1] - c * c)
        return out
    return np.linalg.cholesky(D)


def batched_rmatmul_t(M3: np.ndarray, W: np.ndarray) -> np.ndarray:
    """out[r, l, :] = M3[r, l, :] @ W[l].T for M3 (r, m, q) and W (m, q, q)."""
    q = W.shape[1]
    if q > 4:
        return np.einsum("rla,lba->rlb", M3, W)
    out = np.empty_like(M3)
    for b in range(q):
        acc = M3[:, :, 0] * W[None, :, b, 0]
        for a in range(1, q):
            acc += M3[:, :, a] * W[None, :, b, a]
        out[:, :, b] = acc
    return out


def bmm(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A[k] @ B[k]`` for stacks of small matrices. numpy's batched matmul costs about a
    microsecond per 2 x 2 product (2.7 ms for 3,442 blocks); explicit loops over the few entries,
    vectorized across the stack, take 0.1 ms."""
    n, p, q = A.shape
    r = B.shape[2]
    if max(p, q, r) > 4:
        return np.matmul(A, B)
    out = np.empty((n, p, r))
    for i in range(p):
        for j in range(r):
            acc = A[:, i, 0] * B[:, 0, j]
            for k in range(1, q):
                acc = acc + A[:, i, k] * B[:, k, j]
            out[:, i, j] = acc
    return out


def rmul(A: np.ndarray, T: np.ndarray) -> np.ndarray:
    """``A[k] @ T`` for a stack A (n, p, q) and one matrix T (q, r), as a single 2-D product."""
    n, p, q = A.shape
    return (A.reshape(n * p, q) @ T).reshape(n, p, T.shape[1])


def tlmul(T: np.ndarray, A: np.ndarray) -> np.ndarray:
    """``T' @ A[k]`` for one matrix T (q, s) and a stack A (n, q, r), as a single 2-D product."""
    n, q, r = A.shape
    return np.swapaxes((np.swapaxes(A, 1, 2).reshape(n * r, q) @ T).reshape(n, r, -1), 1, 2)


def kron_identity(T: np.ndarray, m: int) -> sp.csr_matrix:
    """``I_m (x) T`` as a sparse matrix."""
    q = T.shape[0]
    data = np.broadcast_to(T, (m, q, q))
    return sp.bsr_matrix((data, np.arange(m), np.arange(m + 1)), shape=(m * q, m * q)).tocsr()


def is_sparse(a) -> bool:
    return sp.issparse(a)


def to_dense(a) -> np.ndarray:
    if isinstance(a, BlockDiag):
        return a.toarray()
    if sp.issparse(a):
        return a.toarray()
    return a


def is_bsr(a) -> bool:
    return sp.issparse(a) and a.format == "bsr"


def with_data(M: sp.bsr_matrix, data: np.ndarray) -> sp.bsr_matrix:
    """A BSR matrix with the block pattern of ``M`` and new block values."""
    return sp.bsr_matrix((data, M.indices, M.indptr), shape=M.shape, copy=False)


def lam_right(M, T: np.ndarray, m: int):
    """``M (I_m (x) T)`` for a dense or sparse ``M`` whose columns are grouped by level."""
    q = T.shape[0]
    if is_bsr(M):
        return with_data(M, rmul(M.data, T))
    if q == 1:
        return M * T[0, 0]
    if sp.issparse(M):
        return (M @ kron_identity(T, m)).tocsr()
    r = M.shape[0]
    return (M.reshape(r * m, q) @ T).reshape(r, m * q)


def lam_left_t(M, T: np.ndarray, m: int):
    """``(I_m (x) T)' M`` for a dense or sparse ``M`` whose rows are grouped by level."""
    q = T.shape[0]
    if is_bsr(M):
        return with_data(M, tlmul(T, M.data))
    if q == 1:
        return M * T[0, 0]
    if sp.issparse(M):
        return (kron_identity(T.T, m) @ M).tocsr()
    c = M.shape[1]
    return tlmul(T, M.reshape(m, q, c)).reshape(m * q, c)


def matmul_t(a, b):
    """``a @ b.T``; sparse when both are sparse, dense otherwise."""
    if sp.issparse(a) and sp.issparse(b):
        return (a @ b.T).tocsr()
    if sp.issparse(a):
        return np.asarray(a @ b.T)
    if sp.issparse(b):
        return np.asarray((b @ a.T).T)
    return a @ b.T


def subtract(M, P):
    """``M - P`` keeping sparse form only when both are sparse."""
    if sp.issparse(M) and sp.issparse(P):
        return (M - P).tocsr()
    if sp.issparse(M):
        return M.toarray() - P
    if sp.issparse(P):
        return M - P.toarray()
    return M - P


def rdiv_lower_t(M, L):
    """``M L^{-T}`` for a lower-triangular ``L`` (BlockDiag or dense)."""
    if isinstance(L, BlockDiag):
        m, q = L.m, L.q
        inv = L.inv_lower()
        if is_bsr(M):  # block k sits in column block M.indices[k]
            return with_data(M, bmm(M.data, np.swapaxes(inv, 1, 2)[M.indices]))
        if q == 1:
            scale = inv[:, 0, 0]
            if sp.issparse(M):
                return (M @ sp.diags(scale)).tocsr()
            return M * scale
        invt = np.transpose(inv, (0, 2, 1))
        if sp.issparse(M):
            bd = sp.bsr_matrix((invt, np.arange(m), np.arange(m + 1)), shape=(m * q, m * q))
            return (M @ bd).tocsr()
        r = M.shape[0]
        return batched_rmatmul_t(M.reshape(r, m, q), inv).reshape(r, m * q)
    M = to_dense(M)
    return sla.solve_triangular(L, M.T, lower=True, check_finite=False).T


def one_block_per_column(M: sp.bsr_matrix) -> bool:
    """True when every column block of ``M`` holds at most one nonzero block (nested grouping):
    then ``M M'`` is block diagonal."""
    return bool(np.all(np.bincount(M.indices) <= 1))


def blockdiag_downdate(D: BlockDiag, M: sp.bsr_matrix) -> BlockDiag:
    """``D - M M'`` for a BSR ``M`` with one block per column, summing ``M_k M_k'`` per row block."""
    prods = bmm(M.data, np.swapaxes(M.data, 1, 2))
    counts = np.diff(M.indptr)
    nonempty = counts > 0
    out = D.data.copy()
    out[nonempty] -= np.add.reduceat(prods, M.indptr[:-1][nonempty], axis=0)
    return BlockDiag(out)


def blockdiag_pattern_ok(P, q: int) -> bool:
    """True when the sparse matrix ``P`` has nonzeros only inside the q x q diagonal blocks."""
    coo = P.tocoo()
    return bool(np.all(coo.row // q == coo.col // q))


def blockdiag_subtract(D: BlockDiag, P) -> BlockDiag:
    """``D - P`` where ``P`` is sparse with block-diagonal pattern."""
    m, q = D.m, D.q
    coo = P.tocoo()
    flat = (coo.row // q) * (q * q) + (coo.row % q) * q + (coo.col % q)
    upd = np.bincount(flat, weights=coo.data, minlength=m * q * q).reshape(m, q, q)
    return BlockDiag(D.data - upd)


def cholesky(D):
    """Lower Cholesky factor of a BlockDiag or dense symmetric positive-definite matrix."""
    if isinstance(D, BlockDiag):
        return BlockDiag(batched_cholesky(D.data))
    return sla.cholesky(D, lower=True, check_finite=False)
