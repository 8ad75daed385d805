"""Kenward-Roger small-sample inference for the fixed effects of a linear mixed model (REML fits).

Kenward & Roger (1997, Biometrics 53:983-997). Write the marginal covariance as linear in the
covariance parameters, ``V = sum_r s_r G_r``: for each random-effects term the entries of its
covariance matrix ``Psi = sigma^2 T T'`` (variances and covariances, lower triangle column by
column) with ``G_r = Z_t (I_m (x) E_r) Z_t'`` (``E_r`` the symmetric indicator of the entry), and
the residual variance ``sigma^2`` with ``G = I``. This is the parameterization of R's pbkrtest
(Halekoh & Hojsgaard 2014, J. Stat. Softw. 59(9)), whose numbers this module reproduces; being
linear, the second derivatives ``R_rs`` of the paper vanish. With ``Phi = (X'V^{-1}X)^{-1}``,

    P_r  = -X'V^{-1} G_r V^{-1} X,           Q_rs = X'V^{-1} G_r V^{-1} G_s V^{-1} X,
    I_rs = tr(V^{-1}G_r V^{-1}G_s) - 2 tr(Phi Q_rs) + tr(Phi P_r Phi P_s)   (twice the REML
           expected information),  W = 2 I^{-1}  (the asymptotic covariance of the parameters),
    Phi_A = Phi + 2 Phi [sum_rs W_rs (Q_rs - P_r Phi P_s)] Phi.

For a contrast matrix ``L`` of rank ``q`` the Wald statistic ``F = b'L'(L Phi_A L')^{-1} L b / q``
is scaled by ``lambda`` and referred to ``F(q, m)`` with ``m`` from matching the first two moments
(the paper's eqs. 3.8-3.12 with ``Theta = L'(L Phi L')^{-1} L``, ``A_1``, ``A_2``).

Nothing of size ``n x n`` is formed: with ``V = sigma^2 I + Z D Z'`` (``D`` block diagonal with
the ``Psi``) and ``U = Z Lambda``, ``C = I + U'U = L_C L_C'`` gives by Woodbury
``sigma^2 Z'V^{-1}Z = Z'Z - (L_C^{-1} Lambda'Z'Z)'(L_C^{-1} Lambda'Z'Z)`` and the same for
``Z'V^{-1}X`` and ``X'V^{-1}X``; powers of ``V^{-1}`` follow from ``V^{-1} = (I - V^{-1} Z D Z')
/ sigma^2`` (because ``V = sigma^2 I + Z D Z'``), so every trace and product above is a
function of ``q x q``, ``q x p`` and ``p x p`` matrices (``q`` the number of random effects;
dense up to ``MAX_RANEF``). With a single random-effects term ``V`` is block diagonal over the
levels and so are these matrices: they are kept per level, without a size limit. As in lmerTest (``summary(m, ddf = "Kenward-Roger")``) the method is for REML fits only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

# scipy.special, not scipy.stats (0.4 s of start-up): the same functions scipy.stats calls
from scipy import special
from threadpoolctl import threadpool_limits

from mlmpipe.errors import EstimationError

#: largest number of random effects (dense q x q work matrices, ~8 q^2 bytes each)
MAX_RANEF = 6000


@dataclass(frozen=True)
class KRAdjustment:
    """The Kenward-Roger pieces at one REML fit: ``vcov`` (``Phi``), ``vcov_adj`` (``Phi_A``), the
    ``P_r`` matrices, ``W`` (covariance of the covariance parameters) and their names."""

    vcov: np.ndarray
    vcov_adj: np.ndarray
    P: np.ndarray  # (k, p, p)
    W: np.ndarray  # (k, k)
    params: tuple[str, ...]

    def _moments(self, L: np.ndarray) -> tuple[float, float, int]:
        """(A1, A2, rank of L) of Kenward & Roger's eq. 3.8 for the contrast rows ``L``."""
        L = np.atleast_2d(np.asarray(L, float))
        Phi = self.vcov
        Theta = L.T @ np.linalg.solve(L @ Phi @ L.T, L)
        u = np.einsum("ab,kbc,cd->kad", Theta @ Phi, self.P, Phi)  # Theta Phi P_r Phi
        tr = np.einsum("kaa->k", u)
        A1 = float(tr @ self.W @ tr)
        A2 = float(np.einsum("rs,rab,sba->", self.W, u, u))
        return A1, A2, int(np.linalg.matrix_rank(L))

    def ddf_scale(self, L: np.ndarray) -> tuple[float, float]:
        """Denominator df ``m`` and F scale factor ``lambda`` for the contrast rows ``L``
        (pbkrtest's ``Lb_ddf`` and ``F.scaling``)."""
        A1, A2, q = self._moments(L)
        B = (A1 + 6.0 * A2) / (2.0 * q)
        g = ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2)
        den = 3 * q + 2 * (1 - g)
        c1, c2, c3 = g / den, (q - g) / den, (q + 2 - g) / den
        v0 = 1 + c1 * B
        v0 = 0.0 if abs(v0) < 1e-10 else v0
        v1, v2 = 1 - c2 * B, 1 - c3 * B
        ratio = 1.0 if abs(1 - A2 / q) < 1e-14 and abs(v1) < 1e-14 else (1 - A2 / q) / v1
        rho = ratio**2 * v0 / (v2 * q)
        m = 4 + (q + 2) / (q * rho - 1)
        scale = 1.0 if abs(m - 2) < 1e-2 else m * (1 - A2 / q) / (m - 2)
        return float(m), float(scale)

    def coef_df(self) -> np.ndarray:
        """KR denominator df of each single coefficient (t tests)."""
        p = self.vcov.shape[0]
        return np.array([self.ddf_scale(np.eye(p)[i : i + 1])[0] for i in range(p)])

    def ftest(self, L: np.ndarray, beta: np.ndarray, rhs: np.ndarray | float = 0.0) -> dict:
        """KR F test of ``L beta = rhs``: F = lambda b'L'(L Phi_A L')^{-1}L b / q on (q, m) df
        (the ``Ftest`` row of pbkrtest's ``KRmodcomp``; ``F_unscaled`` is its ``FtestU``)."""
        L = np.atleast_2d(np.asarray(L, float))
        d = L @ np.asarray(beta, float) - np.broadcast_to(np.asarray(rhs, float), L.shape[:1])
        q = int(np.linalg.matrix_rank(L))
        wald = float(d @ np.linalg.solve(L @ self.vcov_adj @ L.T, d))
        m, scale = self.ddf_scale(L)
        F = scale * wald / q
        return {
            "ndf": q,
            "ddf": m,
            "F": F,
            "F_unscaled": wald / q,
            "scale": scale,
            "p": float(special.fdtrc(q, m, F)),  # F(q, m) upper tail
        }


def _sym_entries(a: int, b: int) -> list[tuple[int, int]]:
    return [(a, b)] if a == b else [(a, b), (b, a)]


def kenward_roger(
    model, theta: np.ndarray, sigma: float, vcov: np.ndarray, blas_threads: int | None = 1
) -> KRAdjustment:
    """Kenward-Roger adjustment of a REML fit of ``model`` (a ``LinearMixedModel``) at
    ``(theta, sigma)`` with unadjusted ``vcov`` = ``Phi``. See the module docstring.

    ``blas_threads`` caps BLAS threads as in :func:`mlmpipe.engine.fit.fit_design` (on a busy
    2-core machine the 320 x 320 Cholesky of HSB took 3.5 s with OpenBLAS threads, 2 ms without).
    """
    if blas_threads is None:
        return _kenward_roger(model, theta, sigma, vcov)
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        return _kenward_roger(model, theta, sigma, vcov)


@dataclass
class _Pieces:
    """``V^{-1}`` sandwiches in the random-effects space (internal term order, per-level layout):
    N = Z'V^{-1}X, F = X'V^{-1}X, N2 = Z'V^{-2}X, F2 = X'V^{-2}X, F3 = X'V^{-3}X, the per-level
    diagonal blocks M2 of Z'V^{-2}Z, tr V^{-2}; ``m_times(Y)`` = (Z'V^{-1}Z) Y and ``s_pair(t, u)``
    = sum over levels l, l' of M_tu[l b, l' c] M_tu[l a, l' d] as [b, c, a, d]."""

    N: np.ndarray
    N2: np.ndarray
    F2: np.ndarray
    F3: np.ndarray
    M2: list
    tr2: float
    m_times: object
    s_pair: object


def _dense_pieces(model, Ts: list, sizes: list, offs: np.ndarray, s2: float) -> _Pieces:
    """Any number of terms: dense q x q work matrices (q = number of random effects)."""
    nranef = int(offs[-1])
    if nranef > MAX_RANEF:
        raise EstimationError(
            f"Kenward-Roger: {nranef} random effects exceed the limit of {MAX_RANEF} (dense "
            f"{nranef} x {nranef} work matrices); use df_method='satterthwaite'"
        )
    X = model.X
    n = X.shape[0]
    Z = sp.hstack(model._Zs, format="csc")
    Lam = sp.block_diag(
        [sp.kron(sp.identity(m), T) for (m, _), T in zip(sizes, Ts, strict=True)], "csc"
    )
    A = (Z.T @ Z).toarray()
    ZX = np.asarray(Z.T @ X)
    LA = np.asarray(Lam.T @ A)  # Lambda'Z'Z
    C = np.asarray(Lam.T @ LA.T).T
    C[np.diag_indices_from(C)] += 1.0
    Lc = sla.cholesky(C, lower=True, overwrite_a=True, check_finite=False)
    del C
    W1 = sla.solve_triangular(Lc, LA, lower=True, overwrite_b=True, check_finite=False)
    w2 = sla.solve_triangular(Lc, Lam.T @ ZX, lower=True, check_finite=False)
    del Lc
    M = (A - W1.T @ W1) / s2  # Z'V^{-1}Z
    del A
    N = (ZX - W1.T @ w2) / s2  # Z'V^{-1}X
    del W1
    F = (X.T @ X - w2.T @ w2) / s2  # X'V^{-1}X
    D = sp.block_diag(
        [sp.kron(sp.identity(m), s2 * (T @ T.T)) for (m, _), T in zip(sizes, Ts, strict=True)],
        "csr",
    )
    DM = np.asarray(D @ M)
    DN = np.asarray(D @ N)
    N2 = (N - M @ DN) / s2  # Z'V^{-2}X
    F2 = (F - N.T @ DN) / s2  # X'V^{-2}X
    F3 = (F2 - DN.T @ N2) / s2  # X'V^{-3}X
    # Z'V^{-2}Z = (M - M D M) / sigma^2 is needed only in its per-level diagonal blocks
    M2: list[np.ndarray] = []  # (m, q, q) per term, internal order
    for t, (m, q) in enumerate(sizes):
        rows = slice(offs[t], offs[t + 1])
        Mt = M[rows].reshape(m, q, -1)
        MDM = np.einsum("laj,jlb->lab", Mt, DM[:, rows].reshape(-1, m, q))
        Mll = np.einsum("lalb->lab", Mt[:, :, rows].reshape(m, q, m, q))
        M2.append((Mll - MDM) / s2)
    tr1 = (n - np.trace(DM)) / s2  # tr V^{-1}
    del DM

    def s_pair(t: int, u: int) -> np.ndarray:
        (mt, qt), (mu, qu) = sizes[t], sizes[u]
        Mtu = M[offs[t] : offs[t + 1], offs[u] : offs[u + 1]].reshape(mt, qt, mu, qu)
        return np.einsum("xbyc,xayd->bcad", Mtu, Mtu)

    return _Pieces(N, N2, F2, F3, M2, _tr2(tr1, Ts, M2, s2), lambda Y: M @ Y, s_pair)


def _tr2(tr1: float, Ts: list, M2: list, s2: float) -> float:
    """tr V^{-2} = (tr V^{-1} - tr(D Z'V^{-2}Z)) / sigma^2."""
    trDM2 = sum(
        float(np.einsum("ab,lba->", s2 * (T @ T.T), M2t)) for T, M2t in zip(Ts, M2, strict=True)
    )
    return (tr1 - trDM2) / s2


def _block_pieces(model, T: np.ndarray, s2: float) -> _Pieces:
    """One random-effects term: V is block diagonal over its levels, so every q x q matrix of
    :func:`_dense_pieces` is block diagonal too and is kept as (m, q, q) arrays."""
    r = model.reterms[0]
    m, q = r.m, r.q
    X = model.X
    n, p = X.shape
    A = r.diag_crossprod()  # Z_l'Z_l
    ZX = np.asarray(model._Zs[0].T @ X).reshape(m, q, p)
    TA = np.matmul(T.T, A)  # T'Z_l'Z_l
    C = np.matmul(TA, T)
    C[:, np.arange(q), np.arange(q)] += 1.0
    Lc = np.linalg.cholesky(C)
    W1 = np.linalg.solve(Lc, TA)
    w2 = np.linalg.solve(Lc, np.matmul(T.T, ZX))
    Wt = np.swapaxes(W1, 1, 2)
    M = (A - np.matmul(Wt, W1)) / s2
    N = (ZX - np.matmul(Wt, w2)) / s2
    F = (X.T @ X - np.einsum("lqa,lqb->ab", w2, w2)) / s2
    Psi = s2 * (T @ T.T)
    PN = np.matmul(Psi, N)
    N2 = (N - np.matmul(M, PN)) / s2
    F2 = (F - np.einsum("lqa,lqb->ab", N, PN)) / s2
    F3 = (F2 - np.einsum("lqa,lqb->ab", PN, N2)) / s2
    M2 = (M - np.matmul(M, np.matmul(Psi, M))) / s2
    tr1 = (n - float(np.einsum("ab,lba->", Psi, M))) / s2

    def m_times(Y: np.ndarray) -> np.ndarray:
        return np.matmul(M, Y.reshape(m, q, -1)).reshape(m * q, -1)

    def s_pair(t: int, u: int) -> np.ndarray:
        return np.einsum("lbc,lad->bcad", M, M)

    return _Pieces(
        N.reshape(m * q, p),
        N2.reshape(m * q, p),
        F2,
        F3,
        [M2],
        _tr2(tr1, [T], [M2], s2),
        m_times,
        s_pair,
    )


def _kenward_roger(model, theta: np.ndarray, sigma: float, vcov: np.ndarray) -> KRAdjustment:
    if not model.reml:
        raise EstimationError(
            "Kenward-Roger df need a REML fit (as lmerTest); refit with reml=True or use "
            "df_method='satterthwaite'"
        )
    theta = np.asarray(theta, float)
    s2 = float(sigma) ** 2
    p = model.X.shape[1]
    # column layout of the random effects in internal (factorization) order
    Ts = model.thetas_by_term(theta)
    sizes = [(model.reterms[i].m, model.reterms[i].q) for i in model.order]
    offs = np.concatenate([[0], np.cumsum([m * q for m, q in sizes])]).astype(int)
    if len(sizes) == 1 and not model.reterms[0].mm:
        pc = _block_pieces(model, Ts[0], s2)
    else:
        pc = _dense_pieces(model, Ts, sizes, offs, s2)
    N, N2, M2 = pc.N, pc.N2, pc.M2

    # covariance parameters in lme4's reporting order: lower triangle of each Psi, then sigma^2
    params: list[tuple[int, int, int]] = []  # (internal position, a, b)
    names: list[str] = []
    for i, r in enumerate(model.reterms):
        pos = model.order.index(i)
        for a, b in zip(r.tri_rows, r.tri_cols, strict=True):
            params.append((pos, int(a), int(b)))
            tn = r.term.names
            names.append(
                f"{r.name}: var({tn[a]})" if a == b else f"{r.name}: cov({tn[b]}, {tn[a]})"
            )
    names.append("Residual: var")
    kre = len(params)
    k = kre + 1
    # Y_r = (I (x) E_r) N restricted to term t: P_r = -Y_r'N, Q_rs = Y_r' M Y_s, Q_r,res = Y_r'N2
    Y = np.zeros((offs[-1], kre, p))
    for r_, (pos, a, b) in enumerate(params):
        m, q = sizes[pos]
        Nt = N[offs[pos] : offs[pos + 1]].reshape(m, q, p)
        Yt = np.zeros((m, q, p))
        for x, y in _sym_entries(a, b):
            Yt[:, x, :] += Nt[:, y, :]
        Y[offs[pos] : offs[pos + 1], r_, :] = Yt.reshape(m * q, p)
    Yf = Y.reshape(offs[-1], kre * p)
    P = np.empty((k, p, p))
    P[:kre] = -np.einsum("nrp,nq->rpq", Y, N)
    P[kre] = -pc.F2
    P = 0.5 * (P + np.swapaxes(P, 1, 2))
    Qre = (Yf.T @ pc.m_times(Yf)).reshape(kre, p, kre, p).transpose(0, 2, 1, 3)
    Q = np.empty((k, k, p, p))
    Q[:kre, :kre] = Qre
    Qres = np.einsum("nrp,nq->rpq", Y, N2)
    Q[:kre, kre] = Qres
    Q[kre, :kre] = np.swapaxes(Qres, 1, 2)
    Q[kre, kre] = pc.F3
    del Y, Yf

    # traces tr(V^{-1}G_r V^{-1}G_s)
    K = np.empty((k, k))
    S: dict[tuple[int, int], np.ndarray] = {}
    for r_, (t, a, b) in enumerate(params):
        K[r_, kre] = K[kre, r_] = sum(np.sum(M2[t][:, y, x]) for x, y in _sym_entries(a, b))
        for s_, (u, c, d) in enumerate(params[: r_ + 1]):
            if (t, u) not in S:
                S[(t, u)] = pc.s_pair(t, u)
            Stu = S[(t, u)]
            K[r_, s_] = K[s_, r_] = sum(
                Stu[y, z, x, w] for x, y in _sym_entries(a, b) for z, w in _sym_entries(c, d)
            )
    K[kre, kre] = pc.tr2
    del pc, M2

    Phi = np.asarray(vcov, float)
    PhiP = np.einsum("ab,kbc->kac", Phi, P)
    IE2 = K - 2.0 * np.einsum("ab,rsab->rs", Phi, Q) + np.einsum("rab,sba->rs", PhiP, PhiP)
    IE2 = 0.5 * (IE2 + IE2.T)
    if np.min(np.abs(np.linalg.eigvalsh(IE2))) > 1e-10:
        W = 2.0 * np.linalg.inv(IE2)
    else:
        W = 2.0 * np.linalg.pinv(IE2)
    W = 0.5 * (W + W.T)
    PPhiP = np.einsum("rab,bc,scd->rsad", P, Phi, P)
    U = np.einsum("rs,rsab->ab", W, Q - PPhiP)
    U = 0.5 * (U + U.T)
    Phi_A = Phi + 2.0 * Phi @ U @ Phi
    return KRAdjustment(Phi, 0.5 * (Phi_A + Phi_A.T), P, W, tuple(names))


def kr_adjustment(result) -> KRAdjustment:
    """The Kenward-Roger adjustment of a fitted ``LmmResult`` (REML), whatever its ``df_method``."""
    model = result.model
    vcov = model.vcov_beta(result.factor, result.sigma)
    return kenward_roger(model, result.theta, result.sigma, vcov)


def kr_ftest(result, L: np.ndarray | list[str], rhs: np.ndarray | float = 0.0) -> dict:
    """Kenward-Roger F test of ``L beta = rhs`` for a fitted ``LmmResult``; ``L`` is a contrast
    matrix (rows over the fixed effects) or a list of coefficient names (each set to ``rhs``),
    e.g. every column of a multi-df term. See :meth:`KRAdjustment.ftest`."""
    names = list(result.model.fixed_names)
    if len(L) and isinstance(L[0], str):
        missing = [nm for nm in L if nm not in names]
        if missing:
            raise EstimationError(
                f"Kenward-Roger F test: no fixed effect named {', '.join(map(repr, missing))}; "
                f"fixed effects are {names}"
            )
        L = np.eye(len(names))[[names.index(nm) for nm in L]]
    L = np.atleast_2d(np.asarray(L, float))
    if L.shape[1] != len(names):
        raise EstimationError(
            f"Kenward-Roger F test: L has {L.shape[1]} columns, the model {len(names)} fixed effects"
        )
    return kr_adjustment(result).ftest(L, result.beta, rhs)
