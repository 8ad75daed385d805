"""``fit_lmm``: the fitting stages chained (design -> model -> optimize -> check -> result), as lme4's
``lFormula`` -> ``mkLmerDevfun`` -> ``optimizeLmer`` -> ``checkConv`` -> ``mkMerMod``."""

from __future__ import annotations

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from mlmpipe.engine.kenward_roger import kenward_roger
from mlmpipe.engine.lmm import LinearMixedModel
from mlmpipe.engine.optimize import check_convergence, optimize_theta, report_problems
from mlmpipe.engine.priors import (
    LmmFixefPrior,
    PriorSpec,
    penalised,
    prior_penalty,
    resolve_prior,
)
from mlmpipe.engine.residual import ResidualSpec, ResidualStructure
from mlmpipe.engine.residual_fit import fit_with_residual
from mlmpipe.engine.results import LmmResult
from mlmpipe.engine.satterthwaite import satterthwaite_df
from mlmpipe.engine.weights import observation_weights
from mlmpipe.errors import EstimationError, PlanError
from mlmpipe.formula import build_design
from mlmpipe.formula.terms import Design


def fit_design(
    design: Design,
    reml: bool = True,
    df_method: str = "satterthwaite",
    alpha: float = 0.05,
    theta0: np.ndarray | None = None,
    blas_threads: int | None = 1,
    optimizer: str = "bobyqa",
    weights: np.ndarray | None = None,
    prior: PriorSpec | str | dict | None = None,
) -> LmmResult:
    """Fit a linear mixed model to an already-built ``Design``.

    ``weights``: observation weights over ``design.rows`` (residual variance sigma^2 / w_i, as
    lme4's ``lmer(weights=)``; validate with :func:`mlmpipe.engine.weights.observation_weights`).

    ``prior`` (None: none): Bayesian modal estimation, the posterior mode over theta of the
    profiled criterion plus a covariance prior (``"blme"`` for blme's defaults; see
    :mod:`mlmpipe.engine.priors`).

    ``optimizer``: ``"bobyqa"`` (default, as lme4), ``"cobyqa"`` or ``"nelder-mead"`` (see
    :func:`mlmpipe.engine.optimize.optimize_theta`); ``theta0`` overrides the starting values.

    ``blas_threads`` caps BLAS threads during the fit (None: leave as is). The default 1 avoids
    OpenBLAS threads spin-waiting: on a busy 2-core machine a Penicillin fit took 2.8 s instead of
    0.10 s, and InstEval 97 s instead of 11 s, with threads on. It also suits pipelines that run
    fits in parallel. Pass None on an idle machine for large crossed designs.
    """
    if df_method == "kenward_roger" and not reml:
        raise EstimationError(
            "df_method kenward_roger needs a REML fit (as lmerTest); use reml=True or "
            "df_method='satterthwaite'"
        )
    if df_method == "kenward_roger" and weights is not None:
        raise EstimationError(
            "df_method kenward_roger is not available with observation weights; use "
            "df_method='satterthwaite'"
        )
    spec = None if prior is None else resolve_prior(prior)
    if blas_threads is None:
        model = LinearMixedModel(design, reml=reml, weights=weights)
        return _fit_model(model, theta0, df_method, alpha, optimizer, spec)
    # the model's set-up inside the cap too: its rank check's BLAS calls on 24,613 x 6 (STAR)
    # took 0.16 s with spinning threads instead of 0.02 s
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        model = LinearMixedModel(design, reml=reml, weights=weights)
        return _fit_model(model, theta0, df_method, alpha, optimizer, spec)


def _fit_model(
    model: LinearMixedModel,
    theta0: np.ndarray | None,
    df_method: str,
    alpha: float,
    optimizer: str,
    prior: PriorSpec | None = None,
):
    start = np.concatenate([r.theta_start() for r in model.reterms]) if theta0 is None else theta0
    objective, sigma_from = model.objective, model.sigma_from
    if prior is not None:  # Bayesian modal estimation: the penalised criterion (engine/priors.py)
        if prior.fixef is not None:
            fx = LmmFixefPrior(model, prior.fixef)
            objective, sigma_from = fx.objective, fx.sigma_from
        objective = penalised(objective, prior_penalty(prior, model))
    theta, optsum = optimize_theta(objective, start, model.lower, optimizer=optimizer)
    check_convergence(objective, theta, model.lower, optsum)
    f = model.factorize(theta)
    sigma = sigma_from(f)
    beta = model.beta_from(f)
    vcov = model.vcov_beta(f, sigma)
    msgs = list(model.warnings)
    report_problems(optsum, msgs, stacklevel=4)
    if df_method == "satterthwaite":
        df = satterthwaite_df(model, theta, sigma, vcov)
    elif df_method == "kenward_roger":
        adj = kenward_roger(model, theta, sigma, vcov)
        vcov, df = adj.vcov_adj, adj.coef_df()
    elif df_method == "residual":
        df = np.full(model.p, float(model.n - model.p))
    elif df_method == "none":
        df = np.full(model.p, np.inf)
    else:
        raise PlanError(
            f"df_method: unknown value {df_method!r}; allowed: satterthwaite, "
            "kenward_roger, residual, none"
        )
    res = LmmResult(model, theta, f, beta, sigma, vcov, df, optsum, msgs, alpha, df_method)
    if prior is not None:
        res.prior, res.penalised_criterion = prior, float(objective(theta))
        optsum.method += " (posterior mode)"
    return res


def fit_lmm(
    formula: str,
    data: pd.DataFrame,
    reml: bool = True,
    df_method: str = "satterthwaite",
    alpha: float = 0.05,
    blas_threads: int | None = 1,
    theta0: np.ndarray | None = None,
    optimizer: str = "bobyqa",
    weights: str | np.ndarray | pd.Series | None = None,
    correlation: str | None = None,
    variance: str | None = None,
    prior: PriorSpec | str | dict | None = None,
) -> LmmResult:
    """Fit ``formula`` (lme4 syntax) to ``data`` by REML (default) or ML; with ``prior``, the
    Bayesian modal estimate (Chung et al. 2013, as R's blme; :mod:`mlmpipe.engine.priors`).

    Estimation: profiled deviance of the penalized least-squares problem (Bates, Maechler, Bolker &
    Walker 2015, J. Stat. Softw. 67(1)); Satterthwaite df as lmerTest (Kuznetsova et al. 2017).
    ``df_method="kenward_roger"`` (REML only) reports Kenward-Roger adjusted SEs and df as
    pbkrtest (Kenward & Roger 1997; :mod:`mlmpipe.engine.kenward_roger`).

    ``weights``: a column of ``data`` or ``len(data)`` values; residual variance sigma^2 / w_i as
    lme4's ``lmer(weights=)`` (:mod:`mlmpipe.engine.weights`).

    ``correlation`` (``"ar1(~ occasion | subject)"``, ``"car1(~ time | subject)"``) and
    ``variance`` (``"ident(~ 1 | stratum)"``): an R-side residual structure as nlme's ``corAR1``,
    ``corCAR1`` and ``varIdent`` (:mod:`mlmpipe.engine.residual`).
    """
    design = build_design(formula, data)
    spec = ResidualSpec.parse(correlation, variance)
    w = None
    if weights is not None:
        w, label = observation_weights(weights, data, design.rows)
    if spec.active and prior is not None:
        raise PlanError("estimation.prior: not available together with a residual structure yet")
    if spec.active:
        structure = ResidualStructure(spec, data, design.rows, weights=w)
        if blas_threads is None:
            res = fit_with_residual(design, structure, reml, df_method, alpha, optimizer)
        else:
            with threadpool_limits(limits=blas_threads, user_api="blas"):
                res = fit_with_residual(design, structure, reml, df_method, alpha, optimizer)
        res.model.weights = w  # in the whitening already; recorded for the artifact
    else:
        res = fit_design(
            design,
            reml=reml,
            df_method=df_method,
            alpha=alpha,
            theta0=theta0,
            blas_threads=blas_threads,
            optimizer=optimizer,
            weights=w,
            prior=prior,
        )
    if weights is not None:
        res.weights_label = label
    return res
