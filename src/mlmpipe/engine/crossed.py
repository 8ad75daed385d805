"""The profiled (RE)ML deviance of partially crossed designs through one sparse Schur complement.

For scalar random-effects terms (q = 1 each, e.g. ``(1|id) + (1|tch) + (1|sch)`` on mlmRev's
``star``: students crossed with the teachers they had over the years), the blocked Cholesky factor of
:mod:`mlmpipe.engine.lmm` makes the diagonal block of the second term dense as soon as the first
term's levels touch several of its levels, and every evaluation then pays a dense Cholesky of that
block (1,374 teachers: 11 ms, most of a STAR fit). Yet after eliminating the first term (whose block
stays diagonal) the rest of the random-effects system is still very sparse.

This module evaluates the same deviance from

    S = Lambda_S' (A_SS - A_S0 W A_0S) Lambda_S + I,   W = diag(t0^2 / (t0^2 a_l + 1)),

the Schur complement of the (diagonal) first-term block onto all later terms together (``a_l`` the
diagonal of Z_0'Z_0, ``t0`` its theta), factored as ``S = P (I + L) D (I + L)' P'`` by QDLDL
(Stellato, Goulart, Banjac; the OSQP project's LDL' factorization) with an approximate minimum
degree ordering (Amestoy, Davis & Duff 1996) computed once; every later evaluation is a numeric
refactorization on the fixed pattern. The fixed-effects rows follow as the dense Schur complement

    D_X = A_XX - A_X0 W A_0X - C S^{-1} C',   C = (A_XS - A_X0 W A_0S) Lambda_S,

whose lower Cholesky factor holds R_X and the penalized residual sum of squares, so that
``log|L_theta| = 1/2 sum log(t0^2 a_l + 1) + 1/2 sum log d`` and the deviance of Bates et al. (2015,
J. Stat. Softw. 67(1), eqs. 34 and 41) follow exactly as from the blocked factor; the fill-reducing
sparse factorization of the whole random-effects system is also lme4's (CHOLMOD; Davis & Hager).

Only the quantities the optimizer and the derivatives in (theta, sigma) need are formed: the
returned ``Factorization`` holds the fixed-effects block ``L[K][K]`` alone. Results (modes,
conditional variances) use the full blocked factor at the estimates.
"""

from __future__ import annotations

import numpy as np
import qdldl  # sparse LDL' with AMD ordering and numeric refactorization on a fixed pattern
import scipy.linalg as sla
import scipy.sparse as sp

#: the sparse path is taken when the later terms have at least this many levels together ...
MIN_SIZE = 300
#: a sparse LDL' when the factor of their Schur complement keeps at most this fraction of a dense
#: triangle, a dense Cholesky otherwise ...
MAX_FILL = 0.05
#: ... and at most this many later levels (a dense S of 6,000^2 is 288 MB)
MAX_DENSE = 6000


class CrossedSchur:
    """Deviance pieces of a ``LinearMixedModel`` by the sparse Schur complement (see module doc).

    Build with :func:`crossed_schur`, which returns None where the blocked factor is as good."""

    def __init__(self, model) -> None:
        K = model.K
        A = model.A
        self.K = K
        self.p = model.p
        sizes = [model.reterms[i].m for i in model.order]
        self.a0 = A[0][0].data[:, 0, 0].copy()
        off = np.concatenate([[0], np.cumsum(sizes[1:])])
        self.nS = int(off[-1])
        nS = self.nS
        self.term_of = np.repeat(np.arange(1, K), sizes[1:])  # internal term index per S row
        # A_S0 (n_S x m0) stacked over the later terms
        self.AS0 = sp.vstack([sp.csr_matrix(A[j][0]) for j in range(1, K)]).tocsr()
        # entries of A_SS (upper triangle incl. diagonal) in global S coordinates
        rows, cols, vals = [], [], []
        for j in range(1, K):
            d = A[j][j].data[:, 0, 0]
            idx = off[j - 1] + np.arange(sizes[j])
            rows.append(idx)
            cols.append(idx)
            vals.append(d)
            for i in range(1, j):  # block (j, i) is below the diagonal: its transpose is upper
                M = sp.coo_matrix(A[j][i])
                rows.append(off[i - 1] + M.col)
                cols.append(off[j - 1] + M.row)
                vals.append(M.data)
        ar, ac, av = (np.concatenate(x) for x in (rows, cols, vals))
        # pairs (r <= c) of nonzeros sharing a first-term level: the pattern of A_S0 W A_0S
        csc = self.AS0.tocsc()
        csc.sort_indices()
        cnt = np.diff(csc.indptr)
        pr, pc, pl, pv = [], [], [], []
        for k in np.unique(cnt[cnt > 0]):
            lv = np.flatnonzero(cnt == k)
            start = csc.indptr[lv]
            R = csc.indices[start[:, None] + np.arange(k)]
            V = csc.data[start[:, None] + np.arange(k)]
            a, b = np.triu_indices(k)
            pr.append(R[:, a].ravel())
            pc.append(R[:, b].ravel())
            pl.append(np.repeat(lv, a.size))
            pv.append((V[:, a] * V[:, b]).ravel())
        pr, pc, pl, pv = (np.concatenate(x) for x in (pr, pc, pl, pv))
        lo, hi = np.minimum(pr, pc), np.maximum(pr, pc)
        key_a = ac.astype(np.int64) * nS + ar
        key_p = hi.astype(np.int64) * nS + lo
        diag = np.arange(nS, dtype=np.int64)
        # the stored entries (CSC order of the upper triangle) and each source's entry index, by
        # one sort (numpy's hash-based unique took 3 s on InstEval's 1.8 million pairs)
        allk = np.concatenate([key_a, key_p, diag * nS + diag])
        order = np.argsort(allk, kind="stable")
        sk = allk[order]
        first = np.empty(sk.size, bool)
        first[0] = True
        np.not_equal(sk[1:], sk[:-1], out=first[1:])
        inv = np.empty(sk.size, np.int64)
        inv[order] = np.cumsum(first) - 1
        keys = sk[first]
        na, npair = key_a.size, key_p.size
        self.ent_row = (keys % nS).astype(np.int32)
        ent_col = (keys // nS).astype(np.int32)
        self.ent_col = ent_col
        self.indptr = np.searchsorted(ent_col, np.arange(nS + 1)).astype(np.int32)
        self.nent = keys.size
        self.base = np.bincount(inv[:na], weights=av, minlength=self.nent)
        self.pair_ent = inv[na : na + npair]
        self.pair_lvl = pl
        self.pair_val = pv
        self.diag_ent = inv[na + npair :]
        # fixed-effects rows [X y]
        self.AX0 = np.asarray(A[K][0])
        self.AXS = np.hstack([np.asarray(A[K][j]) for j in range(1, K)])
        self.AXX = np.asarray(A[K][K])
        self.solver = None
        self.dense = False  # True: S is assembled dense and factored by LAPACK (``use_dense``)

    @property
    def density(self) -> float:
        """Stored entries of S over those of a dense triangle."""
        return self.nent / (self.nS * (self.nS + 1) / 2)

    def use_dense(self) -> None:
        """Assemble S dense and factor it by LAPACK's Cholesky: for a factor that fills in
        (InstEval: 47 % of the triangle) this beats the sparse LDL' and still saves the blocked
        factor's sparse products (one bincount instead)."""
        self.dense = True
        self.solver = None

    def _S(self, t0: float, tS: np.ndarray, W: np.ndarray) -> sp.csc_matrix:
        v = self.base - np.bincount(
            self.pair_ent, weights=self.pair_val * W[self.pair_lvl], minlength=self.nent
        )
        v *= tS[self.ent_row] * tS[self.ent_col]
        v[self.diag_ent] += 1.0
        return sp.csc_matrix((v, self.ent_row, self.indptr), shape=(self.nS, self.nS))

    def fill(self) -> int:
        """Nonzeros of the strictly lower factor ``L`` (after the AMD ordering)."""
        return int(self.solver.factors()[0].nnz)

    def factorize(self, Ts: list[np.ndarray]) -> tuple[np.ndarray, float, float, float]:
        """``(L_X, log|L_theta|, log|R_X|, r^2)`` at the terms' T_j (internal order), with
        ``L_X`` the lower Cholesky factor of ``D_X``; raises ``LinAlgError`` when the
        factorization breaks down."""
        t0 = float(Ts[0][0, 0])
        tS = np.array([Ts[j][0, 0] for j in range(1, self.K)])[self.term_of - 1]
        d0 = t0 * t0 * self.a0 + 1.0
        W = t0 * t0 / d0
        if self.dense:
            return self._factorize_dense(tS, d0, W)
        S = self._S(t0, tS, W)
        try:
            if self.solver is None:
                self.solver = qdldl.Solver(S, upper=True)
            else:
                self.solver.update(S, upper=True)
        except (ValueError, RuntimeError) as err:  # a zero pivot
            raise np.linalg.LinAlgError(str(err)) from err
        d = self.solver.factors()[1]
        if not np.all(d > 0):
            raise np.linalg.LinAlgError("the sparse Schur complement is not positive definite")
        G = self.AX0 * W
        C = (self.AXS - (self.AS0 @ G.T).T) * tS
        SC = np.column_stack([self.solver.solve(np.ascontiguousarray(c)) for c in C])
        return self._finish(
            G, C, SC, 0.5 * float(np.sum(np.log(d0))) + 0.5 * float(np.sum(np.log(d)))
        )

    def _factorize_dense(self, tS: np.ndarray, d0: np.ndarray, W: np.ndarray):
        v = self.base - np.bincount(
            self.pair_ent, weights=self.pair_val * W[self.pair_lvl], minlength=self.nent
        )
        v *= tS[self.ent_row] * tS[self.ent_col]
        v[self.diag_ent] += 1.0
        S = np.zeros((self.nS, self.nS))
        S[self.ent_col, self.ent_row] = v  # the lower triangle, which LAPACK reads
        LS = sla.cholesky(S, lower=True, overwrite_a=True, check_finite=False)
        G = self.AX0 * W
        C = (self.AXS - (self.AS0 @ G.T).T) * tS
        SC = sla.cho_solve((LS, True), C.T, check_finite=False)
        logdet_S = float(np.sum(np.log(np.diag(LS))))
        return self._finish(G, C, SC, 0.5 * float(np.sum(np.log(d0))) + logdet_S)

    def _finish(self, G, C, SC, logdet_theta: float):
        DX = self.AXX - G @ self.AX0.T - C @ SC
        LK = sla.cholesky(DX, lower=True, check_finite=False)
        p = self.p
        logdet_x = float(np.sum(np.log(np.diag(LK)[:p])))
        return LK, logdet_theta, logdet_x, float(LK[p, p] ** 2)


def _dense(a) -> bool:
    return isinstance(a, np.ndarray)


def crossed_schur(model) -> CrossedSchur | None:
    """A ``CrossedSchur`` for ``model`` when it pays: at least two terms, all scalar (q = 1),
    unweighted, the later terms together ``MIN_SIZE`` to ``MAX_DENSE`` levels, and some later
    term crossed with the first (a first-term level touching two of its levels, so the blocked
    factor would go dense). None otherwise. Its S is sparse when the factor stays within
    ``MAX_FILL`` of a dense triangle, dense otherwise."""
    K = model.K
    rs = [model.reterms[i] for i in model.order]
    if K < 2 or any(r.q != 1 or r.mm for r in rs) or getattr(model, "_wcross", None) is not None:
        return None
    if sum(r.m for r in rs[1:]) < MIN_SIZE:
        return None
    crossed = False
    for j in range(1, K):
        M = model.A[j][0]
        per_col = np.count_nonzero(M, axis=0) if _dense(M) else np.diff(M.tocsc().indptr)
        crossed = crossed or bool(np.any(per_col > 1))
    if not crossed:
        return None
    cs = CrossedSchur(model)
    n = cs.nS
    # a factor at least as full as S itself needs no symbolic analysis to be called dense
    if cs.density <= MAX_FILL:
        cs.factorize([np.eye(1) for _ in range(K)])
        if cs.fill() <= MAX_FILL * n * (n - 1) / 2:
            return cs
    if n > MAX_DENSE:
        return None
    cs.use_dense()
    return cs
