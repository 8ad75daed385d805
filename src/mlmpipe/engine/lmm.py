"""Linear mixed models by the profiled (RE)ML deviance of the penalized least-squares problem.

Model: ``y = X beta + Z b + e``, ``b = Lambda(theta) u``, ``u ~ N(0, sigma^2 I)``, ``e ~ N(0, sigma^2 I)``.
For a given theta, the blocked lower Cholesky factor ``L`` of

    [Lambda'Z'Z Lambda + I   Lambda'Z'X   Lambda'Z'y]
    [X'Z Lambda              X'X          X'y       ]
    [y'Z Lambda              y'X          y'y       ]

gives every quantity of the profiled deviance: ``log|L_theta|``, ``log|R_X|`` and the penalized residual
sum of squares ``r^2`` (the squared last diagonal element). Then (Bates et al. 2015, J. Stat. Softw.
67(1), eqs. 34 and 41)

    ML:   d(theta)  = 2 log|L_theta| + n [1 + log(2 pi r^2 / n)]
    REML: dR(theta) = 2 log|L_theta| + 2 log|R_X| + (n-p) [1 + log(2 pi r^2 / (n-p))].

Observation weights (``lmer(weights=)``, residual variance sigma^2 / w_i) enter as
``[Z X y]' W [Z X y]`` and ``-log|W|`` in both criteria (:mod:`mlmpipe.engine.weights`).

Terms are ordered by decreasing number of random effects so the first diagonal block stays
block-diagonal, as in MixedModels.jl.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.linalg.lapack import dtrtri

from mlmpipe.engine import blocks as B
from mlmpipe.engine.crossed import CrossedSchur, crossed_schur
from mlmpipe.engine.remat import ReMat, cross_block, unique_group_names
from mlmpipe.engine.reweight import WeightedCrossProducts
from mlmpipe.engine.weights import log_det_weights
from mlmpipe.errors import EstimationError, RankDeficiencyWarning
from mlmpipe.formula.random import lme4_term_order
from mlmpipe.formula.terms import Design


def drop_rank_deficient(X: np.ndarray, names: tuple[str, ...], tol: float = 1e-7):
    """Keep columns of X in order, dropping each that lies in the span of the kept ones.

    Mirrors R's ``qr()`` with limited pivoting as lme4 uses it (``check.rankX = "message+drop.cols"``):
    a column is dropped when its residual norm after projection is below ``tol`` times its norm.
    """
    keep: list[int] = []
    Q = np.zeros((X.shape[0], 0))
    for j in range(X.shape[1]):
        x = X[:, j]
        nx = np.linalg.norm(x)
        r = x - Q @ (Q.T @ x) if Q.shape[1] else x
        r = r - Q @ (Q.T @ r) if Q.shape[1] else r  # re-orthogonalize
        nr = np.linalg.norm(r)
        if nx == 0 or nr <= tol * nx:
            continue
        keep.append(j)
        Q = np.column_stack([Q, r / nr])
    dropped = [names[j] for j in range(X.shape[1]) if j not in keep]
    return keep, dropped


@dataclass
class Factorization:
    """The blocked Cholesky factor at one theta and the quantities read off it."""

    L: list  # L[j][i] for i <= j, blocks in internal term order; last row/col is [X y]
    logdet_theta: float
    logdet_x: float
    pwrss: float


class LinearMixedModel:
    """A linear mixed model on a ``Design``; ``objective(theta)`` is the profiled (RE)ML deviance."""

    def __init__(
        self, design: Design, reml: bool = True, weights: np.ndarray | None = None
    ) -> None:
        """``weights``: observation weights over the design's rows (residual variance
        sigma^2 / w_i, as lme4; :mod:`mlmpipe.engine.weights`), None for none."""
        self.design = design
        self.reml = reml
        self.warnings: list[str] = []
        y = np.asarray(design.y, dtype=float)
        if y.ndim != 1:
            raise EstimationError("a linear mixed model needs a single numeric response column")
        X = np.asarray(design.X, dtype=float)
        keep, dropped = drop_rank_deficient(X, design.fixed_names)
        if dropped:
            msg = (
                "fixed-effect model matrix is rank deficient so dropping "
                f"{len(dropped)} column(s): {', '.join(dropped)}"
            )
            warnings.warn(msg, RankDeficiencyWarning, stacklevel=3)
            self.warnings.append(msg)
        self.X = X[:, keep]
        self.fixed_names = tuple(design.fixed_names[j] for j in keep)
        self.dropped = tuple(dropped)
        self.offset = None if design.offset is None else np.asarray(design.offset, float)
        self.y = y if self.offset is None else y - self.offset
        self.n, self.p = self.X.shape
        if not design.re_terms:
            raise EstimationError("the formula has no random-effects term such as (1 | group)")
        # lme4's storage order (theta, VarCorr); repeated factors named g, g.1 in that order
        report = lme4_term_order([t.nlevels for t in design.re_terms])
        ordered = [design.re_terms[i] for i in report]
        names = unique_group_names(ordered)
        self.reterms = [ReMat(t, nm) for t, nm in zip(ordered, names, strict=True)]
        for r in self.reterms:
            if r.m < 2:
                raise EstimationError(f"grouping factor {r.term.group!r} has a single level")
        nranef = sum(r.nranef for r in self.reterms)
        if nranef >= self.n:
            raise EstimationError(
                f"number of random effects ({nranef}) must be smaller than the number of "
                f"observations ({self.n}); check the grouping factors "
                + ", ".join(r.term.group for r in self.reterms)
            )
        # theta layout follows the reporting order (as lme4's getME(m, "theta"))
        self.theta_index = []
        k = 0
        for r in self.reterms:
            self.theta_index.append(slice(k, k + r.ntheta))
            k += r.ntheta
        self.ntheta = k
        self.lower = np.concatenate([r.lower_bounds() for r in self.reterms])
        # internal (factorization) order: decreasing number of random effects
        self.order = sorted(range(len(self.reterms)), key=lambda i: -self.reterms[i].nranef)
        self.weights = None if weights is None else np.asarray(weights, float)
        if self.weights is not None and self.weights.shape != (self.n,):
            raise EstimationError(f"weights: {self.weights.size} values for {self.n} model rows")
        self.ldW = log_det_weights(self.weights)
        self.nresid_par = 0  # residual-structure parameters (engine.residual_fit sets them)
        self._setup_crossproducts(self.weights)
        self._bd_ok: dict[int, bool] = {}
        self._crossed: CrossedSchur | None | bool = False  # False: not yet decided
        self._nested_flags: dict[tuple[int, int], bool] = {}

    # ------------------------------------------------------------------ set-up
    def _setup_crossproducts(self, w: np.ndarray | None = None) -> None:
        rs = [self.reterms[i] for i in self.order]
        if not hasattr(self, "_Zs"):
            self._Zs = [r.Z() for r in rs]
        self.A = _crossproducts(rs, self._Zs, np.column_stack([self.X, self.y]), w)
        self.K = len(rs)

    def set_whitened(self, X: np.ndarray, y: np.ndarray, Zcols: list[np.ndarray], ldW: float):
        """Cross-products from whitened rows (``X``, ``y`` and each term's raw columns ``Zcols``,
        internal order, premultiplied by the inverse Cholesky factor of the residual correlation;
        :mod:`mlmpipe.engine.residual`) and ``ldW = -log|R|``. ``X``, ``y`` and ``Z`` themselves
        stay raw, so fitted values and residuals keep the data's scale."""
        rs = []
        for pos, i in enumerate(self.order):
            r = self.reterms[i]
            t = r.term
            rs.append(ReMat(type(t)(t.group, t.codes, t.levels, t.names, Zcols[pos]), r.name))
        Zs = []
        for pos, r in enumerate(rs):
            Z0 = self._Zs[pos]  # the raw Z: the same pattern, its data in row-major order
            if Z0.nnz == Zcols[pos].size:
                data = np.ascontiguousarray(Zcols[pos]).ravel()
                Zs.append(sp.csr_matrix((data, Z0.indices, Z0.indptr), shape=Z0.shape))
            else:
                Zs.append(r.Z())
        self.A = _crossproducts(rs, Zs, np.column_stack([X, y]), None)
        self.ldW = ldW
        self._crossed = None  # the blocked factor (whitening is only defined for nested terms)
        self.__dict__.pop("_fcache", None)

    def reweight(self, w: np.ndarray, z: np.ndarray) -> None:
        """Replace the response by ``z`` and the cross-products by the weighted ones
        ``[Z X z]' W [Z X z]`` with ``W = diag(w)``: the penalized weighted least-squares system of
        one PIRLS step of a GLMM (working weights and working response; Bates et al. 2015, sec. 5;
        lme4's ``glmerLaplace``). ``factorize``, ``beta_from`` and ``spherical_modes`` then solve it."""
        w = np.asarray(w, float)
        self.y = np.asarray(z, float)
        if self.weights is not None:
            raise EstimationError("observation weights are not supported for GLMMs yet")
        if any(r.mm for r in self.reterms):  # no fixed pattern map for membership blocks
            rs = [self.reterms[i] for i in self.order]
            self.A = _crossproducts(rs, self._Zs, np.column_stack([self.X, self.y]), w)
            self._crossed = None
            return
        if getattr(self, "_wcross", None) is None:
            self._wcross = WeightedCrossProducts(self)
        if self.weights is not None:
            raise EstimationError("observation weights are not supported for GLMMs yet")
        self._wcross.apply(self, np.asarray(w, float))
        self._crossed = None  # the sparse deviance path assumes the unweighted cross-products

    # -------------------------------------------------------------- objective
    def thetas_by_term(self, theta: np.ndarray) -> list[np.ndarray]:
        """T_i for each term in internal order."""
        return [self.reterms[i].T(theta[self.theta_index[i]]) for i in self.order]

    def factorize(self, theta: np.ndarray) -> Factorization:
        """Blocked Cholesky factor of the scaled cross-product matrix at ``theta``."""
        A, K = self.A, self.K
        Ts = self.thetas_by_term(np.asarray(theta, float))
        ms = [self.reterms[i].m for i in self.order]
        L: list[list] = [[None] * (K + 1) for _ in range(K + 1)]
        for j in range(K + 1):
            for i in range(j):
                M = A[j][i]
                M = B.lam_right(M, Ts[i], ms[i])
                if j < K:
                    M = B.lam_left_t(M, Ts[j], ms[j])
                for m in range(i):
                    M = B.subtract(M, B.matmul_t(L[j][m], L[i][m]))
                L[j][i] = B.rdiv_lower_t(M, L[i][i])
            if j < K and not isinstance(A[j][j], B.BlockDiag):  # a membership term: dense
                D = B.lam_left_t(B.lam_right(A[j][j], Ts[j], ms[j]), Ts[j], ms[j])
                D = D + np.eye(D.shape[0])
            elif j < K:
                T = Ts[j]
                D = B.BlockDiag(B.rmul(B.tlmul(T, A[j][j].data), T))
                D.data[:, np.arange(T.shape[0]), np.arange(T.shape[0])] += 1.0
            else:
                D = A[K][K].copy()
            for m in range(j):
                Ljm = L[j][m]
                if isinstance(D, B.BlockDiag) and B.is_bsr(Ljm) and self._nested(j, m, Ljm):
                    D = B.blockdiag_downdate(D, Ljm)
                    continue
                P = B.matmul_t(Ljm, Ljm)
                if isinstance(D, B.BlockDiag):
                    if sp.issparse(P) and self._blockdiag_ok(j, P, D.q):
                        D = B.blockdiag_subtract(D, P)
                        continue
                    D = D.toarray()
                D = B.subtract(D, P)
            L[j][j] = B.cholesky(D)
        logdet_theta = 0.0
        for j in range(K):
            Ljj = L[j][j]
            if isinstance(Ljj, B.BlockDiag):
                logdet_theta += Ljj.logdet_chol()
            else:
                logdet_theta += float(np.sum(np.log(np.diag(Ljj))))
        LK = L[K][K]
        p = self.p
        logdet_x = float(np.sum(np.log(np.diag(LK)[:p])))
        pwrss = float(LK[p, p] ** 2)
        return Factorization(L, logdet_theta, logdet_x, pwrss)

    def factorize_deviance(self, theta: np.ndarray) -> Factorization:
        """What the deviance and ``beta_from``/``vcov_beta`` need at ``theta``: the full blocked
        factor, or, for partially crossed scalar terms (:mod:`mlmpipe.engine.crossed`), the same
        log-determinants, r^2 and fixed-effects block ``L[K][K]`` from one sparse Schur
        complement (the other blocks are then None)."""
        if self._crossed is False:
            self._crossed = crossed_schur(self)
        if self._crossed is None:
            return self.factorize(theta)
        LK, logdet_theta, logdet_x, pwrss = self._crossed.factorize(
            self.thetas_by_term(np.asarray(theta, float))
        )
        L: list[list] = [[None] * (self.K + 1) for _ in range(self.K + 1)]
        L[self.K][self.K] = LK
        return Factorization(L, logdet_theta, logdet_x, pwrss)

    def factorize_cached(self, theta: np.ndarray) -> Factorization:
        """``factorize_deviance`` with a small cache keyed by theta: numerical derivatives in
        (theta, sigma) revisit the same theta for every sigma step."""
        key = np.asarray(theta, float).tobytes()
        cache = self.__dict__.setdefault("_fcache", {})
        f = cache.get(key)
        if f is None:
            if len(cache) >= 8:
                cache.pop(next(iter(cache)))
            f = cache[key] = self.factorize_deviance(theta)
        return f

    def _nested(self, j: int, m: int, M) -> bool:
        key = (j, m)
        if key not in self._nested_flags:
            self._nested_flags[key] = B.one_block_per_column(M)
        return self._nested_flags[key]

    def _blockdiag_ok(self, j: int, P, q: int) -> bool:
        if j not in self._bd_ok:
            self._bd_ok[j] = B.blockdiag_pattern_ok(P, q)
        return self._bd_ok[j]

    def deviance_from(self, f: Factorization) -> float:
        n, p = self.n, self.p
        if self.reml:
            nr = n - p
            return (
                2 * f.logdet_theta
                + 2 * f.logdet_x
                + nr * (1.0 + np.log(2 * np.pi * f.pwrss / nr))
                - self.ldW
            )
        return 2 * f.logdet_theta + n * (1.0 + np.log(2 * np.pi * f.pwrss / n)) - self.ldW

    def objective(self, theta: np.ndarray) -> float:
        """Profiled deviance (ML) or REML criterion at ``theta``."""
        try:
            f = self.factorize_deviance(theta)
        except np.linalg.LinAlgError:
            return np.inf
        if not np.isfinite(f.logdet_x) or f.pwrss <= 0:
            return np.inf
        return self.deviance_from(f)

    def deviance_varpar(self, varpar: np.ndarray) -> float:
        """Deviance as a function of (theta, sigma), not profiled over sigma (lmerTest's devfun_vp).

        ML: log|L|^2 + r^2/sigma^2 + n log(2 pi sigma^2); REML adds 2 log|R_X| - p log(2 pi sigma^2).
        """
        theta, sigma = varpar[:-1], varpar[-1]
        f = self.factorize_cached(theta)
        s2 = sigma * sigma
        dev = 2 * f.logdet_theta + f.pwrss / s2 + self.n * np.log(2 * np.pi * s2) - self.ldW
        if self.reml:
            dev += 2 * f.logdet_x - self.p * np.log(2 * np.pi * s2)
        return float(dev)

    # ----------------------------------------------------------- solutions
    def sigma_from(self, f: Factorization) -> float:
        dof = self.n - self.p if self.reml else self.n
        return float(np.sqrt(f.pwrss / dof))

    def beta_from(self, f: Factorization) -> np.ndarray:
        LK = f.L[self.K][self.K]
        p = self.p
        if p == 0:
            return np.zeros(0)
        return sla.solve_triangular(LK[:p, :p], LK[p, :p], lower=True, trans="T")

    def rx_inverse(self, f: Factorization) -> np.ndarray:
        """R_X^{-1} with R_X lower here: vcov(beta) = sigma^2 R_X^{-T} R_X^{-1}."""
        p = self.p
        if p == 0:  # no fixed effects (e.g. a thresholds-only ordinal model)
            return np.zeros((0, 0))
        LK = f.L[self.K][self.K]
        inv, info = dtrtri(LK[:p, :p], lower=1)
        if info != 0:
            raise np.linalg.LinAlgError("R_X is singular")
        return inv

    def vcov_beta(self, f: Factorization, sigma: float) -> np.ndarray:
        Ri = self.rx_inverse(f)
        return sigma**2 * (Ri.T @ Ri)

    def spherical_modes(self, f: Factorization, beta: np.ndarray) -> list[np.ndarray]:
        """Conditional modes u of the spherical random effects, internal term order.

        Back substitution ``L_theta' u = c - L_X' beta`` over the blocks.
        """
        K, p = self.K, self.p
        L = f.L
        us: list[np.ndarray | None] = [None] * K
        for j in range(K - 1, -1, -1):
            LKj = L[K][j]
            rhs = LKj[p, :] - (LKj[:p, :].T @ beta if p else 0.0)
            for i in range(j + 1, K):
                rhs = rhs - np.asarray(B.matmul_t(_as_row(us[i]), _transpose(L[i][j]))).ravel()
            us[j] = _solve_lower_t(L[j][j], rhs)
        return us


def _crossproducts(rs: list[ReMat], Zs: list, XY: np.ndarray, w: np.ndarray | None) -> list[list]:
    """The blocks of ``[Z X y]' W [Z X y]`` (W = I when ``w`` is None), terms in internal order."""
    K = len(rs)
    A: list[list] = [[None] * (K + 1) for _ in range(K + 1)]
    for j, r in enumerate(rs):
        A[j][j] = r.crossprod(w)
        for i in range(j):
            A[j][i] = cross_block(r, rs[i], w=w)
    WXY = XY if w is None else XY * w[:, None]
    A[K] = [np.asarray((Z.T @ WXY).T) for Z in Zs] + [XY.T @ WXY]
    return A


def _as_row(v: np.ndarray) -> np.ndarray:
    return v.reshape(1, -1)


def _transpose(a):
    return a.T.tocsr() if sp.issparse(a) else a.T


def _solve_lower_t(Ljj, rhs: np.ndarray) -> np.ndarray:
    """Solve ``Ljj' x = rhs``."""
    if isinstance(Ljj, B.BlockDiag):
        m, q = Ljj.m, Ljj.q
        if q == 1:
            return rhs / Ljj.data[:, 0, 0]
        inv = Ljj.inv_lower()
        return np.einsum("lba,lb->la", inv, rhs.reshape(m, q)).ravel()

    return sla.solve_triangular(Ljj, rhs, lower=True, trans="T", check_finite=False)
