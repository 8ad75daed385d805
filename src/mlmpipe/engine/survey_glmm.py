"""Pseudo-maximum likelihood of a two-level binary (logit) or Poisson (log) GLMM with sampling
weights at both levels, by adaptive Gauss-Hermite quadrature over the cluster effect.

With cluster weights ``w_j``, (scaled) level-1 weights ``w_i|j`` and ``b_j = sigma u_j``,
``u_j ~ N(0, 1)``, the pseudo-log-likelihood is (Rabe-Hesketh & Skrondal 2006, JRSS A 169(4),
eqs. 4-6; Pfeffermann et al. 1998)

    l(beta, sigma) = sum_j w_j l_j,   l_j = log int exp(h_j(u)) phi(u) du,
    h_j(u) = sum_i w_i|j log f(y_ij | x_ij'beta + sigma z_ij u):

level-1 weights act inside each cluster's conditional log-likelihood, level-2 weights multiply the
cluster's log marginal. Each integral is centred at the mode ``u_j`` of ``h_j(u) - u^2 / 2`` and
scaled by ``s_j = 1 / L_j``, ``L_j^2 = sigma^2 sum_i w_i|j z_ij^2 v_ij + 1`` (``v`` the GLM
working weight, the observed information for canonical links), with the n-point Gauss-Hermite
rule ``(x_k, omega_k)`` for the standard normal density:

    l_j ~= -log L_j + log sum_k omega_k exp(h_j(u_j + s_j x_k) - (u_j + s_j x_k)^2 / 2 + x_k^2 / 2)

(Pinheiro & Bates 1995; one node is the Laplace approximation). With integer weights this is the
(AGHQ) log-likelihood of the data replicated ``w_i|j`` times within and ``w_j`` times across
clusters, which lme4's ``glmer(nAGQ = n)`` reports for the replicated data.

Standard errors: the cluster-robust sandwich (:mod:`mlmpipe.engine.sandwich`) from per-cluster
scores ``w_j d l_j / d phi`` and the Hessian of ``l`` in ``phi = (beta, sigma^2)``, both by
Richardson-extrapolated finite differences; model-based SEs are ``(-H)^{-1}``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import logsumexp
from threadpoolctl import threadpool_limits

from mlmpipe.engine.aghq import MAX_NAGQ, gauss_hermite
from mlmpipe.engine.family import Family, make_family
from mlmpipe.engine.numderiv import hessian, jacobian
from mlmpipe.engine.optimize import check_convergence, optimize_theta, report_problems
from mlmpipe.engine.remat import ReMat
from mlmpipe.engine.sandwich import SMALL_SAMPLE, cluster_sandwich
from mlmpipe.engine.support import response_and_weights
from mlmpipe.engine.survey import single_term, vech_names
from mlmpipe.engine.survey_results import SurveyFit
from mlmpipe.engine.survey_scaling import SurveyWeights, survey_weights
from mlmpipe.errors import EstimationError
from mlmpipe.formula import build_design
from mlmpipe.formula.terms import Design

#: families (with their canonical link) that weighted quadrature supports
FAMILIES = {"binomial": "logit", "poisson": "log"}


class SurveyGlmm:
    """Per-cluster AGHQ pseudo-log-likelihood of a GLMM with one scalar random-effects term."""

    def __init__(
        self, design: Design, re: ReMat, sw: SurveyWeights, family: Family, nagq: int
    ) -> None:
        if re.q != 1:
            raise EstimationError(
                "sampling_weights: a weighted GLMM needs one scalar random-effects term such as "
                f"(1 | {re.term.group}); this term has {re.q} columns"
            )
        if not 1 <= nagq <= MAX_NAGQ:
            raise EstimationError(f"nagq: must be between 1 and {MAX_NAGQ}, got {nagq}")
        self.y, self.wt = response_and_weights(design, family.name)
        self.family, self.nagq = family, int(nagq)
        self.X = np.asarray(design.X, float)
        self.off = np.zeros(self.X.shape[0]) if design.offset is None else np.asarray(design.offset)
        self.z = np.asarray(re.term.Z[:, 0], float)
        self.codes, self.w1, self.w2, self.m = sw.codes, sw.w1, sw.w2, re.m
        self.p = self.X.shape[1]
        self._u = np.zeros(self.m)

    def _sum(self, a: np.ndarray) -> np.ndarray:
        return np.bincount(self.codes, weights=a, minlength=self.m)

    def _h(self, eta: np.ndarray) -> np.ndarray:
        """Weighted conditional log-likelihood per cluster (rows of ``eta`` broadcast)."""
        ll = -0.5 * self.w1 * self.family.m2ll(self.y, eta, self.wt)
        if ll.ndim == 1:
            return self._sum(ll)
        k = ll.shape[0]
        slot = (np.arange(k)[:, None] * self.m + self.codes[None, :]).ravel()
        return np.bincount(slot, weights=ll.ravel(), minlength=k * self.m).reshape(k, self.m)

    def modes(self, beta: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
        """Modes ``u_j`` of ``h_j(u) - u^2/2`` by step-halving Newton and ``L_j`` there."""
        ef = self.off + self.X @ beta
        sz = sigma * self.z
        u = self._u.copy()
        obj = self._h(ef + sz * u[self.codes]) - 0.5 * u * u
        for _ in range(100):
            _, ww, r = self.family.working(self.y, ef + sz * u[self.codes], self.wt)
            info = self._sum(self.w1 * ww * sz * sz) + 1.0
            step = (self._sum(self.w1 * ww * r * sz) - u) / info
            t = np.ones(self.m)
            for _ in range(40):
                un = u + t * step
                new = self._h(ef + sz * un[self.codes]) - 0.5 * un * un
                worse = new < obj - 1e-12 * np.abs(obj)
                if not worse.any():
                    break
                t = np.where(worse, 0.5 * t, t)
            u, obj = un, new
            if np.max(np.abs(t * step)) < 1e-11:
                break
        _, ww, _ = self.family.working(self.y, ef + sz * u[self.codes], self.wt)
        self._u = u
        return u, np.sqrt(self._sum(self.w1 * ww * sz * sz) + 1.0)

    def cluster_loglik_at(self, beta: np.ndarray, sigma: float) -> np.ndarray:
        """``l_j`` per cluster (before the cluster weight) at (beta, sigma)."""
        u, L = self.modes(beta, sigma)
        x, logw = gauss_hermite(self.nagq)
        uk = u[None, :] + x[:, None] / L[None, :]  # (nodes, m)
        eta = (self.off + self.X @ beta)[None, :] + sigma * self.z[None, :] * uk[:, self.codes]
        terms = logw[:, None] + self._h(eta) - 0.5 * uk * uk + 0.5 * (x * x)[:, None]
        return logsumexp(terms, axis=0) - np.log(L)

    def deviance(self, par: np.ndarray) -> float:
        """``-2 l`` at ``par = (sigma, beta)`` (the optimiser's scale, as glmer's (theta, beta))."""
        try:
            v = -2.0 * float(self.w2 @ self.cluster_loglik_at(par[1:], float(par[0])))
        except (FloatingPointError, np.linalg.LinAlgError):
            return np.inf
        return v if np.isfinite(v) else np.inf

    def cluster_loglik(self, phi: np.ndarray) -> np.ndarray:
        """``l_j`` at ``phi = (beta, sigma^2)``."""
        return self.cluster_loglik_at(phi[:-1], float(np.sqrt(max(phi[-1], 0.0))))

    def pseudo_loglik(self, phi: np.ndarray) -> float:
        return float(self.w2 @ self.cluster_loglik(phi))

    def start(self) -> np.ndarray:
        """Starting ``(sigma, beta)``: sigma 1 (as lme4) and the weighted GLM fit by IRLS."""
        wr = self.w1 * self.w2[self.codes]
        eta = self.family.eta_start(self.y, self.wt)
        beta = np.zeros(self.p)
        for _ in range(25):
            _, ww, r = self.family.working(self.y, eta, self.wt)
            a = wr * ww
            wz = eta - self.off + r
            new = np.linalg.lstsq(self.X * np.sqrt(a)[:, None], np.sqrt(a) * wz, rcond=None)[0]
            done = np.max(np.abs(new - beta)) < 1e-8
            beta = new
            eta = self.off + self.X @ beta
            if done:
                break
        return np.concatenate([[1.0], beta])


def fit_survey_glmm(
    formula: str,
    data: pd.DataFrame,
    sampling_weights: dict[str, str],
    family: str = "binomial",
    link: str | None = None,
    scaling: str = "none",
    nagq: int = 7,
    alpha: float = 0.05,
    optimizer: str = "bobyqa",
    blas_threads: int | None = 1,
) -> SurveyFit:
    """Pseudo-ML fit of a two-level logit/Poisson GLMM with sampling weights (see module)."""
    if family not in FAMILIES:
        raise EstimationError(
            f"family: {family!r} is not available with sampling_weights; allowed: gaussian, "
            + ", ".join(FAMILIES)
        )
    if link not in (None, FAMILIES[family]):
        raise EstimationError(
            f"link: {link!r} is not available with sampling_weights; family {family!r} needs "
            f"{FAMILIES[family]!r}"
        )
    design = build_design(formula, data)
    re = single_term(design)
    sw = survey_weights(
        sampling_weights, data, design.rows, [re.term.group], re.term.codes, re.m, scaling
    )
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        mod = SurveyGlmm(design, re, sw, make_family(family), nagq)
        return _fit(mod, design, re, sw, formula, family, alpha, optimizer)


def _fit(mod: SurveyGlmm, design, re, sw, formula, family, alpha, optimizer) -> SurveyFit:
    lower = np.concatenate([[0.0], np.full(mod.p, -np.inf)])
    par, optsum = optimize_theta(mod.deviance, mod.start(), lower, optimizer=optimizer)
    check_convergence(mod.deviance, par, lower, optsum)
    msgs: list[str] = []
    report_problems(optsum, msgs, stacklevel=4)
    phi = np.concatenate([par[1:], [par[0] ** 2]])
    H = hessian(mod.pseudo_loglik, phi, d=1e-2, r=4)
    scores = mod.w2[:, None] * jacobian(mod.cluster_loglik, phi)
    if optsum.singular:  # sigma on its bound: the variance has no interior derivative
        keep = np.arange(mod.p)
        vrob = np.full((mod.p + 1, mod.p + 1), np.nan)
        vmod = vrob.copy()
        vrob[np.ix_(keep, keep)] = cluster_sandwich(scores[:, keep], H[np.ix_(keep, keep)])
        vmod[np.ix_(keep, keep)] = np.linalg.inv(-H[np.ix_(keep, keep)])
    else:
        vrob = cluster_sandwich(scores, H)
        vmod = np.linalg.inv(-H)
    return SurveyFit(
        formula=formula,
        family=family,
        scaling=sw.scaling,
        group=sw.group,
        fixed_names=tuple(design.fixed_names),
        param_names=tuple(design.fixed_names) + tuple(vech_names(re)),
        params=phi,
        vcov_robust=vrob,
        vcov_model=0.5 * (vmod + vmod.T),
        pseudo_loglik=mod.pseudo_loglik(phi),
        nobs=int(design.rows.size),
        ngroups=re.m,
        weights=sw.labels,
        theta=par[:1],
        optsum=optsum,
        small_sample=SMALL_SAMPLE,
        nagq=mod.nagq,
        alpha=alpha,
        warnings=msgs,
    )
