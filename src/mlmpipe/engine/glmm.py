"""Generalized linear mixed models by the Laplace approximation or adaptive Gauss-Hermite quadrature.

The GLMM wraps an inner ``LinearMixedModel`` (one core): PIRLS (``engine/pirls.py``) reweights its
cross-products and reuses its blocked Cholesky factor. The Laplace approximation to the deviance at
the conditional modes ``u`` is (Bates et al. 2015, J. Stat. Softw. 67(1); lme4's ``glmer``)

    -2 log L(theta, beta) ~= sum_i -2 log p(y_i | mu_i) + ||u||^2 + log|L_theta|^2,

``L_theta L_theta' = Lambda'Z'WZ Lambda + I`` at the converged working weights. As lme4, fitting has
two stages: (1) theta alone, with beta estimated jointly with u inside PIRLS (``nAGQ = 0``); (2) theta
and beta together by BOBYQA from stage 1's estimates, with PIRLS over u only. With ``nagq > 1`` and a
single scalar random-effects term, stage 2 minimizes the AGHQ deviance (``engine/aghq.py``).
The covariance of beta is the beta block of ``2 H^{-1}``, ``H`` the finite-difference Hessian of the
stage-2 deviance in (theta, beta) (lme4's ``vcov(use.hessian = TRUE)``).
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from mlmpipe.engine import ordinal_laplace
from mlmpipe.engine.aghq import MAX_NAGQ, aghq_deviance
from mlmpipe.engine.family import Family, make_family
from mlmpipe.engine.glmm_results import GlmmResult
from mlmpipe.engine.lmm import LinearMixedModel
from mlmpipe.engine.optimize import check_convergence, optimize_theta, report_problems
from mlmpipe.engine.pirls import Pirls, PirlsState
from mlmpipe.engine.priors import fixef_penalised, penalised_at, prior_penalty, resolve_prior
from mlmpipe.engine.support import (
    ordinal_response,
    response_and_weights,
    separation_warnings,
)
from mlmpipe.errors import ConvergenceWarning, EstimationError, PlanError
from mlmpipe.formula import build_design
from mlmpipe.formula.terms import Design

XTOL = 1e-7  # absolute x tolerance of the stage-2 BOBYQA (lme4's nloptwrap default is 1e-6)
# stage 1 as a start only: its optimum on the synthetic 400k model is the same to 1e-7 with
# 48 instead of 78 evaluations (its objective is flat to ~1e-10 there)
STAGE1_XTOL = 1e-6


class GeneralizedLinearMixedModel:
    """A GLMM on a ``Design``; ``objective(par)`` is the Laplace/AGHQ deviance in (theta, beta)."""

    def __init__(self, design: Design, family: Family, nagq: int = 1) -> None:
        self.design = design
        self.family = family
        self.nagq = int(nagq)
        y, wt = response_and_weights(design, family.name)
        self.y, self.wt = y, wt
        inner = dataclasses.replace(design, y=y, offset=None)
        if family.name == "ordinal":  # thresholds take the place of the intercept
            family = family.with_categories(ordinal_response(design)[1])
            self.family = family
            keep = [j for j, nm in enumerate(design.fixed_names) if nm != "(Intercept)"]
            names = tuple(design.fixed_names[j] for j in keep)
            inner = dataclasses.replace(inner, X=np.asarray(design.X)[:, keep], fixed_names=names)
        self.lmm = LinearMixedModel(inner, reml=False)
        lmm = self.lmm
        sep = [] if family.name == "ordinal" else separation_warnings(lmm.X, lmm.fixed_names, y, wt)
        self.warnings = list(lmm.warnings) + sep
        for msg in self.warnings[len(lmm.warnings) :]:
            warnings.warn(msg, ConvergenceWarning, stacklevel=3)
        self.offset = np.zeros(lmm.n) if design.offset is None else np.asarray(design.offset, float)
        self.n, self.p, self.ntheta = lmm.n, lmm.p, lmm.ntheta
        if self.nagq < 0 or self.nagq > MAX_NAGQ:
            raise EstimationError(f"nagq: must be between 0 and {MAX_NAGQ}, got {self.nagq}")
        if self.nagq > 1 and any(r.mm for r in lmm.reterms):
            raise EstimationError("nagq > 1 is not applicable with a multiple-membership term")
        if self.nagq > 1 and (len(lmm.reterms) != 1 or lmm.reterms[0].q != 1):
            raise EstimationError(
                "nagq > 1 needs a single scalar random-effects term such as (1 | group); "
                f"this model has {len(lmm.reterms)} term(s) with "
                f"{', '.join(str(r.q) for r in lmm.reterms)} column(s)"
            )
        self.pirls = Pirls(lmm, family, y, wt, self.offset)
        if len(lmm.reterms) > 1:
            no_x = dataclasses.replace(inner, X=np.zeros((lmm.n, 0)), fixed_names=())
            self.pirls.lmm_u = LinearMixedModel(no_x, reml=False)
        self.eta_start = family.eta_start(y, wt)
        self.us0 = [np.zeros(lmm.reterms[i].nranef) for i in lmm.order]
        self.beta0 = np.zeros(self.p)
        self._warm: list[np.ndarray] | None = None
        self._m2ll_shift: float | None = None
        self._frozen = False
        self.nextra = family.nextra  # family parameters after (theta, beta): NB2 log k, thresholds
        self.lower = np.concatenate([lmm.lower, np.full(self.p + self.nextra, -np.inf)])
        self.lower1 = np.concatenate([lmm.lower, np.full(self.nextra, -np.inf)])

    def set_extra(self, extra: np.ndarray) -> None:
        """Install the family parameter (NB2: ``extra = [log k]``)."""
        if self.nextra:
            self.family = self.family.with_extra(extra)
            self.pirls.family = self.family

    # ---------------------------------------------------------------- pieces
    def cond_m2ll(self, eta: np.ndarray) -> np.ndarray:
        return self.family.m2ll(self.y, eta, self.wt)

    def laplace_from(self, st: PirlsState, theta: np.ndarray | None = None) -> float:
        logdet = st.factor.logdet_theta
        if self.family.name == "negbin" and theta is not None:  # observed information, as TMB
            self.lmm.reweight(self.family.observed_weights(self.y, st.eta, self.wt), st.eta)
            logdet = self.lmm.factorize(theta).logdet_theta
        return float(self.sum_m2ll(st) + st.sumsq_u + 2 * logdet)

    def sum_m2ll(self, st: PirlsState) -> float:
        """``sum_i -2 log p(y_i | eta_i)`` at PIRLS's ``eta``: its unit deviances ``st.dev`` plus the
        normalizing constants (binomial coefficients, ``log y!``), which do not depend on eta and
        are summed once (families without extra parameters; 3 gammaln passes per evaluation
        otherwise)."""
        if self.family.nextra or not np.isfinite(st.dev):
            return float(np.sum(self.cond_m2ll(st.eta)))
        if self._m2ll_shift is None:
            self._m2ll_shift = float(np.sum(self.cond_m2ll(st.eta))) - st.dev
        return st.dev + self._m2ll_shift

    def deviance_from(self, theta: np.ndarray, st: PirlsState, nagq: int) -> float:
        if nagq <= 1:
            return self.laplace_from(st, theta)
        r = self.lmm.reterms[0]
        return aghq_deviance(
            self.cond_m2ll,
            r.term.codes,
            r.term.Z[:, 0],
            float(theta[0]),
            self.offset + self.lmm.X @ st.beta,
            st.us[0],
            st.factor.L[0][0].data[:, 0, 0],
            nagq,
        )

    # ------------------------------------------------------------- objectives
    def pirls_stage1(self, theta: np.ndarray) -> PirlsState:
        return self.pirls.run(theta, self.beta0, self.us0, beta_free=True, eta_start=self.eta_start)

    def objective_stage1(self, x: np.ndarray) -> float:
        """Laplace deviance with beta at its joint mode with u (lme4's ``nAGQ = 0``);
        ``x = (theta, extra)``."""
        try:
            theta = x[: self.ntheta]
            self.set_extra(x[self.ntheta :])
            return self.laplace_from(self.pirls_stage1(theta), theta)
        except (np.linalg.LinAlgError, EstimationError, FloatingPointError):
            return np.inf

    def pirls_stage2(self, par: np.ndarray, full: bool = False) -> PirlsState:
        """PIRLS over u at (theta, beta), warm-started from the previous evaluation's modes
        unless ``freeze_start`` fixed the start (for finite differences)."""
        nt = self.ntheta
        self.set_extra(par[nt + self.p :])
        st = self.pirls.run(par[:nt], par[nt : nt + self.p], self._warm or self.us0, full=full)
        if not self._frozen:
            self._warm = st.us
        return st

    def freeze_start(self, par: np.ndarray) -> None:
        """Start every later PIRLS from the modes at ``par``: the deviance is then a deterministic
        function of (theta, beta) to rounding, as finite-difference derivatives need."""
        self._frozen = False
        st = self.pirls_stage2(par, full=True)
        self._warm = st.us
        self._frozen = True
        return st

    def steps(self, st: PirlsState) -> np.ndarray:
        """Finite-difference steps: 1e-4 for theta (lme4's ``deriv12``) and 1% of the conditional SE
        ``sqrt(diag((R_X'R_X)^{-1}))`` for each beta, so that truncation error (relative
        ~(h/SE)^2/12) and rounding error both stay below 1e-5 whatever the scale of a covariate
        (an absolute 1e-4 step gave 0.3% error on an age^2 coefficient)."""
        se = np.sqrt(np.diag(self.lmm.vcov_beta(st.factor, 1.0)))
        return np.concatenate([np.full(self.ntheta, 1e-4), 0.01 * se, np.full(self.nextra, 1e-4)])

    def objective(self, par: np.ndarray) -> float:
        """Laplace (nagq <= 1) or AGHQ deviance at ``par = (theta, beta)``."""
        par = np.asarray(par, float)
        try:
            st = self.pirls_stage2(par)
            return self.deviance_from(par[: self.ntheta], st, self.nagq)
        except (np.linalg.LinAlgError, EstimationError, FloatingPointError):
            return np.inf


def fit_glmm_design(
    design: Design,
    family: str = "binomial",
    link: str | None = None,
    nagq: int = 1,
    alpha: float = 0.05,
    prior=None,
):
    """Fit a GLMM to a ``Design`` in lme4's two stages (see module docstring); with ``prior``
    the posterior mode of both stages' deviance plus a covariance prior (blme's ``bglmer``;
    :mod:`mlmpipe.engine.priors`), whose Hessian then gives vcov."""
    fam = make_family(family, link)
    model = GeneralizedLinearMixedModel(design, fam, nagq)
    if prior is not None:
        penalise_glmm(model, prior)
    lmm = model.lmm
    with threadpool_limits(limits=1, user_api="blas"):
        start = np.concatenate(
            [r.theta_start() for r in lmm.reterms] + [model.family.extra_start(model.y)]
        )
        if prior is None and ordinal_laplace.applicable(model):  # analytic gradient (clmm's fit)
            par, optsum = ordinal_laplace.fit_ordinal_laplace(model, start)
            msgs = list(model.warnings)
            st_opt = model.freeze_start(par)
            derivs = ordinal_laplace.gradient_hessian(model, par, model.steps(st_opt))
            g, H = check_convergence(model.objective, par, model.lower, optsum, derivs=derivs)
            return _finish(model, par, H, optsum, msgs, alpha, prior)
        # stage 1 only starts stage 2 (which refits theta with beta to XTOL) unless nAGQ = 0
        xtol1 = 1e-10 if model.nagq == 0 else STAGE1_XTOL
        x1, opt1 = optimize_theta(model.objective_stage1, start, model.lower1, xtol=xtol1)
        theta1, extra1 = x1[: model.ntheta], x1[model.ntheta :]
        model.set_extra(extra1)
        st1 = model.pirls_stage1(theta1)
        model.us0, model.beta0 = st1.us, st1.beta
        msgs = list(model.warnings) + [f"stage 1 (nAGQ = 0): {m}" for m in opt1.fallbacks]
        if model.nagq == 0:
            par, optsum = np.concatenate([theta1, st1.beta, extra1]), opt1
            g, H = check_convergence(model.objective_stage1, x1, model.lower1, optsum)
        else:
            # beta on the scale of its conditional SE from stage 1, so BOBYQA's trust region
            # fits every coordinate: beta = beta1 + se * t, t starting at 0
            x0 = np.concatenate([theta1, st1.beta, extra1])
            scale = model.steps(st1) / 0.01
            scale[: model.ntheta] = 1.0
            scale[model.ntheta + model.p :] = 1.0

            def scaled(t: np.ndarray) -> float:
                return model.objective(x0 + scale * t)

            t_opt, optsum = optimize_theta(
                scaled,
                np.zeros_like(x0),
                model.lower - np.where(np.isfinite(model.lower), x0, 0),
                xtol=XTOL,
            )
            par = x0 + scale * t_opt
            optsum.theta_start, optsum.theta_end = x0.tolist(), par.tolist()
            optsum.method += " (stage 2: theta, beta / SE)"
            st_opt = model.freeze_start(par)
            derivs = deviance_derivatives(model.objective, par, model.lower, model.steps(st_opt))
            g, H = check_convergence(model.objective, par, model.lower, optsum, derivs=derivs)
    return _finish(model, par, H, optsum, msgs, alpha, prior)


def _finish(model, par, H, optsum, msgs, alpha, prior):
    """The fitted ``GlmmResult`` at the estimates ``par`` with the deviance Hessian ``H``."""
    lmm = model.lmm
    with threadpool_limits(limits=1, user_api="blas"):
        st = model.pirls_stage2(par, full=True)
        vcov, note = _vcov(model, par, H, st)
        deviance = model.deviance_from(par[: model.ntheta], st, model.nagq)
    if note:
        msgs.append(note)
    report_problems(optsum, msgs, stacklevel=4)
    res = GlmmResult(
        lmm,
        par[: model.ntheta],
        st.factor,
        st.beta,
        1.0,
        vcov,
        np.full(model.p, np.inf),
        optsum,
        msgs,
        alpha,
        glmm=model,
        state=st,
        glmm_deviance=deviance,
    )
    if prior is not None:  # the posterior-mode criterion beside the Laplace/AGHQ deviance
        res.prior, res.penalised_criterion = model.prior, float(model.objective(par))
        optsum.method += " (posterior mode)"
    return res


def deviance_derivatives(f, x: np.ndarray, lower: np.ndarray, h: np.ndarray):
    """Gradient and Hessian of ``f`` by central differences with step ``h[i]`` in coordinate i
    (as lme4's ``deriv12``, whose Hessian ``vcov(glmerMod)`` inverts); forward differences for a
    coordinate within ``h[i]`` of its lower bound."""
    x = np.asarray(x, float)
    k = x.size
    f0 = f(x)
    up = np.diag(h)
    inside = x - h >= lower
    dn = np.where(inside[:, None], -up, 0.0)
    span = np.where(inside, 2 * h, h)
    fu = np.array([f(x + up[i]) for i in range(k)])
    fd = np.array([f(x + dn[i]) if inside[i] else f0 for i in range(k)])
    g = (fu - fd) / span
    H = np.zeros((k, k))
    for i in range(k):
        if inside[i]:
            H[i, i] = (fu[i] - 2 * f0 + fd[i]) / h[i] ** 2
        else:
            H[i, i] = (f(x + 2 * up[i]) - 2 * fu[i] + f0) / h[i] ** 2
        for j in range(i):
            v = (
                f(x + up[i] + up[j])
                - f(x + up[i] + dn[j])
                - f(x + dn[i] + up[j])
                + f(x + dn[i] + dn[j])
            )
            H[i, j] = H[j, i] = v / (span[i] * span[j])
    return g, H


def _vcov(model: GeneralizedLinearMixedModel, par, H, st: PirlsState):
    """Beta block of ``2 H^{-1}`` (lme4's ``use.hessian = TRUE``); falls back, with a note, to the
    conditional estimate ``(R_X' R_X)^{-1}`` at the converged weights when H is not positive definite."""
    nt = model.ntheta
    if model.nagq > 0:
        try:
            model.hinv = 2 * np.linalg.inv(H)
            V = model.hinv[nt : nt + model.p, nt : nt + model.p]
            V = (V + V.T) / 2
            if np.all(np.isfinite(V)) and np.all(np.linalg.eigvalsh(V) > 0):  # p may be 0
                return V, None
        except np.linalg.LinAlgError:
            pass
        note = "Hessian of the deviance not positive definite: vcov from R_X (conditional on theta)"
    else:
        note = None
    return model.lmm.vcov_beta(st.factor, 1.0), note


def penalise_glmm(model: GeneralizedLinearMixedModel, prior) -> None:
    """Replace both stages' objectives of ``model`` by the penalised ones (Bayesian modal
    estimation); the prior's penalty depends on theta, the leading coordinates, only."""
    spec = resolve_prior(prior)
    pen = prior_penalty(spec, model.lmm)
    nt = model.ntheta
    model.prior = spec
    model.objective_stage1 = penalised_at(model.objective_stage1, pen, nt)
    stage2 = penalised_at(model.objective, pen, nt)
    if spec.fixef is not None:  # -2 log N(beta; 0, V) on the (theta, beta) criterion of stage 2
        if model.nagq == 0:
            raise PlanError("estimation.prior.fixef: a fixed-effect prior needs nagq >= 1")
        stage2 = fixef_penalised(stage2, spec.fixef, nt, model.p)
    model.objective = stage2


def fit_glmm(
    formula: str,
    data,
    family: str = "binomial",
    link: str | None = None,
    nagq: int = 1,
    alpha: float = 0.05,
    prior=None,
):
    """Fit a GLMM given in lme4 syntax (``cbind(successes, failures) ~ ...`` for binomial trials)."""
    return fit_glmm_design(build_design(formula, data), family, link, nagq, alpha, prior=prior)
