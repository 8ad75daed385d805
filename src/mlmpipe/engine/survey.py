"""Pseudo-maximum likelihood of a two-level linear mixed model with sampling weights at both levels.

With cluster weights ``w_j`` and level-1 weights ``w_i|j`` (already scaled; see
:mod:`mlmpipe.engine.survey_scaling`), the pseudo-log-likelihood is (Pfeffermann et al. 1998;
Rabe-Hesketh & Skrondal 2006, JRSS A 169(4), eq. 4)

    l(phi) = sum_j w_j log int prod_i f(y_ij | b_j)^{w_i|j} N(b_j; 0, G) db_j .

For a Gaussian outcome the integral is closed (as WeMix's analytic solution for linear models):
with ``b_j = Lambda v_j``, ``G = sigma^2 Lambda Lambda'``, ``W_j = diag(w_i|j)``,
``M_j = Lambda'Z_j'W_j Z_j Lambda + I`` and ``PRSS_j`` the penalised weighted residual sum of squares,

    l_j = -(sum_i w_i|j / 2) log(2 pi sigma^2) - log|M_j| / 2 - PRSS_j / (2 sigma^2).

Given theta, beta is a weighted GLS solution and ``sigma^2 = sum_j w_j PRSS_j / N_w``,
``N_w = sum_j w_j sum_i w_i|j``, which leaves the profiled deviance
``N_w (1 + log(2 pi sigma^2)) + sum_j w_j log|M_j|`` to minimise over theta (as lme4's profiled
ML deviance, Bates et al. 2015, to which it reduces with all weights 1). Integer weights act as
replication: a school weight k equals k copies of the school (as new schools), a student weight
k equals k copies of the student inside the same school.

Standard errors: the cluster-robust sandwich (:mod:`mlmpipe.engine.sandwich`) built from analytic
per-cluster scores in ``phi = (beta, vech G, sigma^2)``, and the model-based ones.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from mlmpipe.engine.numderiv import jacobian
from mlmpipe.engine.optimize import check_convergence, optimize_theta, report_problems
from mlmpipe.engine.remat import ReMat
from mlmpipe.engine.sandwich import SMALL_SAMPLE, cluster_sandwich
from mlmpipe.engine.survey_results import SurveyFit
from mlmpipe.engine.survey_scaling import SurveyWeights, survey_weights
from mlmpipe.errors import EstimationError
from mlmpipe.formula import build_design
from mlmpipe.formula.terms import Design

LOG2PI = float(np.log(2 * np.pi))


def single_term(design: Design) -> ReMat:
    """The one random-effects term pseudo-likelihood supports (two levels), or a one-line error."""
    groups = {t.group for t in design.re_terms}
    if len(design.re_terms) != 1:
        raise EstimationError(
            "sampling_weights: pseudo-likelihood is implemented for two-level models with one "
            f"random-effects term (got {len(design.re_terms)} terms on {', '.join(sorted(groups))})"
        )
    return ReMat(design.re_terms[0], design.re_terms[0].group)


def vech_names(re: ReMat) -> list[str]:
    n = re.term.names
    g = re.term.group
    return [
        f"var({g}:{n[a]})" if a == b else f"cov({g}:{n[b]},{n[a]})"
        for a, b in zip(re.tri_rows, re.tri_cols, strict=True)
    ]


class SurveyLmm:
    """Weighted per-cluster cross-products and the pseudo-likelihood pieces of a 2-level LMM."""

    def __init__(self, design: Design, re: ReMat, sw: SurveyWeights) -> None:
        if design.y.ndim != 1:
            raise EstimationError("sampling_weights: a linear model needs a numeric response")
        self.design, self.re, self.sw = design, re, sw
        X, y, Z, w, c = design.X, design.y, re.term.Z, sw.w1, sw.codes
        if design.offset is not None:
            y = y - design.offset
        m, q, p = re.m, re.q, X.shape[1]
        self.m, self.q, self.p = m, q, p

        def tot(a: np.ndarray) -> np.ndarray:
            out = np.zeros((m,) + a.shape[1:])
            np.add.at(out, c, a)
            return out

        wZ = w[:, None] * Z
        self.S = tot(wZ[:, :, None] * Z[:, None, :])
        self.ZX = tot(wZ[:, :, None] * X[:, None, :])
        self.Zy = tot(wZ * y[:, None])
        self.XX = tot((w[:, None] * X)[:, :, None] * X[:, None, :])
        self.Xy = tot(w[:, None] * X * y[:, None])
        self.yy = np.bincount(c, weights=w * y * y, minlength=m)
        self.Wj = np.bincount(c, weights=w, minlength=m)
        self.nj = np.bincount(c, minlength=m).astype(float)
        self.w2 = sw.w2
        self.Nw = float(self.w2 @ self.Wj)
        self.XXw = np.einsum("j,jab->ab", self.w2, self.XX)
        self.Xyw = self.w2 @ self.Xy
        self.yyw = float(self.w2 @ self.yy)
        self.lower = re.lower_bounds()
        self.ntheta = re.ntheta

    # ------------------------------------------------------------ profiled criterion over theta
    def _solve(self, theta: np.ndarray):
        Lam = self.re.T(theta)
        M = np.einsum("ba,jbc,cd->jad", Lam, self.S, Lam) + np.eye(self.q)
        L = np.linalg.cholesky(M)
        logdet = 2 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)
        cy = np.linalg.solve(L, np.einsum("ba,jb->ja", Lam, self.Zy)[..., None])[..., 0]
        CX = np.linalg.solve(L, np.einsum("ba,jbp->jap", Lam, self.ZX))
        w2 = self.w2
        A = self.XXw - np.einsum("j,jap,jar->pr", w2, CX, CX)
        b = self.Xyw - np.einsum("j,jap,ja->p", w2, CX, cy)
        beta = np.linalg.solve(A, b)
        e = cy - np.einsum("jap,p->ja", CX, beta)
        prss = (
            self.yyw
            - 2 * beta @ self.Xyw
            + beta @ self.XXw @ beta
            - float(w2 @ (e * e).sum(axis=1))
        )
        return beta, prss, float(w2 @ logdet), A

    def deviance(self, theta: np.ndarray) -> float:
        """Profiled pseudo-deviance ``-2 l`` at theta (beta and sigma^2 profiled out)."""
        _, prss, ld, _ = self._solve(theta)
        prss = max(prss, 1e-300)
        return self.Nw * (1 + LOG2PI + np.log(prss / self.Nw)) + ld

    # ------------------------------------------------------------ per-cluster pieces in phi
    def unpack(self, phi: np.ndarray):
        p, q = self.p, self.q
        beta = phi[:p]
        G = np.zeros((q, q))
        G[self.re.tri_rows, self.re.tri_cols] = phi[p : p + self.ntheta]
        G = G + np.tril(G, -1).T
        return beta, G, float(phi[-1])

    def _pieces(self, phi: np.ndarray):
        beta, G, s2 = self.unpack(phi)
        Q = s2 * np.eye(self.q) + self.S @ G
        K = G @ np.linalg.inv(Q)
        Zr = self.Zy - np.einsum("jap,p->ja", self.ZX, beta)
        rWr = self.yy - 2 * self.Xy @ beta + np.einsum("p,jpr,r->j", beta, self.XX, beta)
        KZr = np.einsum("jab,jb->ja", K, Zr)
        return beta, G, s2, Q, K, Zr, rWr, KZr

    def cluster_loglik(self, phi: np.ndarray) -> np.ndarray:
        """``l_j(phi)`` per cluster, before the cluster weight (level-1 weights inside)."""
        _, _, s2, Q, _, Zr, rWr, KZr = self._pieces(phi)
        ldQ = np.linalg.slogdet(Q)[1]
        quad = (rWr - (Zr * KZr).sum(axis=1)) / s2
        return (
            -0.5 * self.Wj * (LOG2PI + np.log(s2)) - 0.5 * (ldQ - self.q * np.log(s2)) - 0.5 * quad
        )

    def cluster_scores(self, phi: np.ndarray) -> np.ndarray:
        """Analytic ``d l_j / d phi`` per cluster, ``(m, k)``, before the cluster weight."""
        beta, G, s2, Q, K, Zr, rWr, KZr = self._pieces(phi)
        Xr = self.Xy - np.einsum("jpr,r->jp", self.XX, beta)
        s_beta = (Xr - np.einsum("jap,ja->jp", self.ZX, KZr)) / s2
        g = (Zr - np.einsum("jab,jb->ja", self.S, KZr)) / s2
        ZVZ = (self.S - self.S @ K @ self.S) / s2
        a, b = self.re.tri_rows, self.re.tri_cols
        diag = a == b
        s_G = np.where(
            diag,
            -0.5 * ZVZ[:, a, b] + 0.5 * g[:, a] * g[:, b],
            -ZVZ[:, a, b] + g[:, a] * g[:, b],
        )
        trKS = np.einsum("jab,jba->j", K, self.S)
        SKZr = np.einsum("jab,jb->ja", self.S, KZr)
        q2 = (rWr - 2 * (Zr * KZr).sum(axis=1) + (KZr * SKZr).sum(axis=1)) / s2**2
        s_s2 = -0.5 * (self.nj - trKS) / s2 + 0.5 * q2 - 0.5 * (self.Wj - self.nj) / s2
        return np.column_stack([s_beta, s_G, s_s2])

    def total_score(self, phi: np.ndarray) -> np.ndarray:
        return self.w2 @ self.cluster_scores(phi)


def fit_survey_lmm(
    formula: str,
    data: pd.DataFrame,
    sampling_weights: dict[str, str],
    scaling: str = "none",
    alpha: float = 0.05,
    optimizer: str = "bobyqa",
    blas_threads: int | None = 1,
) -> SurveyFit:
    """Pseudo-ML fit of a two-level LMM with sampling weights at both levels (see module)."""
    design = build_design(formula, data)
    re = single_term(design)
    sw = survey_weights(
        sampling_weights, data, design.rows, [re.term.group], re.term.codes, re.m, scaling
    )
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        return _fit(design, re, sw, formula, alpha, optimizer)


def _fit(design, re, sw, formula, alpha, optimizer) -> SurveyFit:
    mod = SurveyLmm(design, re, sw)
    theta, optsum = optimize_theta(mod.deviance, re.theta_start(), mod.lower, optimizer=optimizer)
    check_convergence(mod.deviance, theta, mod.lower, optsum)
    msgs: list[str] = []
    report_problems(optsum, msgs, stacklevel=4)
    beta, prss, _, A = mod._solve(theta)
    s2 = prss / mod.Nw
    Lam = re.T(theta)
    G = s2 * Lam @ Lam.T
    phi = np.concatenate([beta, G[re.tri_rows, re.tri_cols], [s2]])
    H = jacobian(mod.total_score, phi, r=2)
    H = 0.5 * (H + H.T)
    scores = mod.w2[:, None] * mod.cluster_scores(phi)
    vrob = cluster_sandwich(scores, H)
    vmod = np.linalg.inv(-H)
    p = mod.p
    vmod[:p, :] = 0.0
    vmod[:, :p] = 0.0
    vmod[:p, :p] = s2 * np.linalg.inv(A)
    names = tuple(design.fixed_names) + tuple(vech_names(re)) + ("var(Residual)",)
    ll = float(mod.w2 @ mod.cluster_loglik(phi))
    return SurveyFit(
        formula=formula,
        family="gaussian",
        scaling=sw.scaling,
        group=sw.group,
        fixed_names=tuple(design.fixed_names),
        param_names=names,
        params=phi,
        vcov_robust=vrob,
        vcov_model=vmod,
        pseudo_loglik=ll,
        nobs=int(design.rows.size),
        ngroups=re.m,
        weights=sw.labels,
        theta=theta,
        optsum=optsum,
        small_sample=SMALL_SAMPLE,
        alpha=alpha,
        warnings=msgs,
    )
