"""``restore(record, data)``: the engine model of a fit record at its stored parameters.

No optimization runs: an LMM is factorized at the stored theta (beta and sigma follow from the
penalized least-squares solution, Bates et al. 2015, eqs. 5-8, so they equal the fit's to rounding);
a GLMM runs PIRLS at the stored (theta, beta, family parameters), started from the stored spherical
modes. The returned result evaluates predictions, residuals, conditional modes, the deviance at any
theta (``result.model.objective``), profiles and simulations for bootstrap replicates.

A record with observation weights, an R-side residual structure or a Bayesian modal prior on the
fixed effects is rebuilt with them: the weights column is read again, the residual structure is
set at the stored phi and variance ratios (the model's cross-products are those of the whitened
rows, :mod:`mlmpipe.engine.residual_fit`; theta-only deviances are then conditional on the residual
parameters), and a fixed-effects prior adds its pseudo-data (:class:`LmmFixefPrior`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from mlmpipe.engine.family import make_family
from mlmpipe.engine.glmm import GeneralizedLinearMixedModel
from mlmpipe.engine.glmm_results import GlmmResult
from mlmpipe.engine.lmm import LinearMixedModel
from mlmpipe.engine.optimize import OptSummary
from mlmpipe.engine.priors import LmmFixefPrior, resolve_prior
from mlmpipe.engine.residual import ResidualSpec, ResidualStructure
from mlmpipe.engine.residual_fit import ResidualModel
from mlmpipe.engine.results import LmmResult
from mlmpipe.engine.weights import observation_weights
from mlmpipe.errors import EstimationError
from mlmpipe.record.fitrecord import FitRecord


def restore(record: FitRecord, data: pd.DataFrame, alpha: float = 0.05) -> LmmResult:
    """The fitted model of ``record`` on ``data`` (the data it was fitted to) without refitting.

    Raises :class:`EstimationError` for a Rubin-pooled record (no data set has its estimates) and
    when ``data`` does not give the design the record was fitted on (number of rows used)."""
    if record.is_pooled:
        raise EstimationError(
            f"{record.label}: a record pooled over {record.pooling.m} imputations has no single "
            "data set to restore on; restore a per-imputation record"
        )
    if record.theta is None:
        raise EstimationError(f"{record.label}: the record has no theta to restore from")
    design = record.design(data)
    if record.nobs is not None and len(design.rows) != record.nobs:
        raise EstimationError(
            f"{record.label}: the data give {len(design.rows)} usable rows, the fit used "
            f"{record.nobs}; restore needs the data the model was fitted to"
        )
    theta = np.asarray(record.theta, float)
    optsum = record.optimizer or OptSummary("restored", theta.tolist(), theta.tolist())
    df_method = record.df_method or "satterthwaite"
    with threadpool_limits(limits=1, user_api="blas"):
        if record.family.is_gaussian:
            return _restore_lmm(record, design, data, theta, optsum, df_method, alpha)
        return _restore_glmm(record, design, theta, optsum, alpha)


def residual_parameters(record: FitRecord, structure: ResidualStructure) -> np.ndarray:
    """The optimizer's residual parameters ``a`` from the record's phi and variance ratios
    (``phi = tanh(a)`` for ar1, logistic for car1, ``ratio = exp(c)``; engine/residual.py)."""
    r = record.residual or {}
    a: list[float] = []
    if structure.spec.correlation == "ar1":
        a.append(float(np.arctanh(r["phi"])))
    elif structure.spec.correlation == "car1":
        a.append(float(np.log(r["phi"] / (1.0 - r["phi"]))))
    ratios = r.get("variance_ratios") or {}
    for lv in structure.strata_levels[1:]:
        if lv not in ratios:
            raise EstimationError(
                f"{record.label}: the record has no variance ratio for stratum {lv!r} of "
                f"{structure.spec.strata!r}; restore needs the data the model was fitted to"
            )
        a.append(float(np.log(ratios[lv] / ratios[structure.strata_levels[0]])))
    return np.asarray(a, float)


def _restore_lmm(record, design, data, theta, optsum, df_method, alpha) -> LmmResult:
    w = None
    if record.weights is not None:
        if record.weights == "<array>":
            raise EstimationError(
                f"{record.label}: the record was fitted with weights given as values; restore "
                "needs a weights column"
            )
        w, _ = observation_weights(record.weights, data, design.rows)
    spec = ResidualSpec.parse(record.correlation, record.variance_function)
    if spec.active:
        model = LinearMixedModel(design, reml=record.reml)
        structure = ResidualStructure(spec, data, design.rows, weights=w)
        ResidualModel(model, structure).set_params(residual_parameters(record, structure))
        model.nresid_par = structure.npar
        model.weights = w
    else:
        model = LinearMixedModel(design, reml=record.reml, weights=w)
    sigma_from = model.sigma_from
    if record.prior is not None:
        fixef = resolve_prior(record.prior).fixef
        if fixef is not None:
            sigma_from = LmmFixefPrior(model, fixef).sigma_from
    f = model.factorize(theta)
    sigma = sigma_from(f)
    beta = model.beta_from(f)
    vcov = record.vcov if record.vcov is not None else model.vcov_beta(f, sigma)
    df = np.array([np.inf if r.df is None else r.df for r in record.fixed], float)
    if len(df) != len(beta):
        df = np.full(len(beta), np.inf)
    res = LmmResult(
        model,
        theta,
        f,
        beta,
        sigma,
        np.asarray(vcov, float),
        df,
        optsum,
        list(record.warnings),
        alpha,
        df_method,
    )
    res.weights_label = record.weights
    res.residual = None if record.residual is None else dict(record.residual)
    return res


def _restore_glmm(record, design, theta, optsum, alpha) -> GlmmResult:
    fam = record.family
    nagq = 1 if fam.nagq is None else fam.nagq
    model = GeneralizedLinearMixedModel(design, make_family(fam.name, fam.link), nagq)
    missing = [n for n in ("beta", "vcov") if getattr(record, n) is None]
    if model.nextra and record.extra is None:
        missing.append("extra (family parameters)")
    if missing:
        raise EstimationError(f"{record.label}: the record has no {', '.join(missing)} to restore")
    beta = np.asarray(record.beta, float)
    extra = np.asarray(record.extra if model.nextra else [], float)
    par = np.concatenate([theta, beta, extra])
    model.set_extra(extra)
    modes = record_modes(record, model)
    if modes is not None:
        model.us0 = modes
    st = model.freeze_start(par)
    st = model.pirls_stage2(par, full=True)
    deviance = model.deviance_from(theta, st, model.nagq)
    vcov = record.vcov if record.vcov is not None else model.lmm.vcov_beta(st.factor, 1.0)
    return GlmmResult(
        model.lmm,
        theta,
        st.factor,
        st.beta,
        1.0,
        np.asarray(vcov, float),
        np.full(model.p, np.inf),
        optsum,
        list(record.warnings),
        alpha,
        glmm=model,
        state=st,
        glmm_deviance=deviance,
    )


def record_modes(record: FitRecord, model: GeneralizedLinearMixedModel) -> list[np.ndarray] | None:
    """Spherical modes ``u = Lambda^{-1} b`` in the engine's internal term order, from the record's
    conditional modes (None when the record has none or they do not match the design)."""
    lmm = model.lmm
    theta = np.asarray(record.theta, float)
    out = []
    for i in lmm.order:
        r = lmm.reterms[i]
        block = record.ranef.get(r.term.group)
        if block is None or any(nm not in block.terms for nm in r.term.names):
            return None
        cols = [block.terms.index(nm) for nm in r.term.names]
        b = block.values[:, cols]
        if b.shape != (r.m, r.q):
            return None
        T = r.T(theta[lmm.theta_index[i]])
        try:
            u = np.linalg.solve(T, b.T).T
        except np.linalg.LinAlgError:
            return None
        out.append(u.ravel())
    return out
