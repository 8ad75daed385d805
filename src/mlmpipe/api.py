"""The public entry point: ``mlmpipe.fit``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mlmpipe.engine.fit import fit_lmm
from mlmpipe.engine.glmm import fit_glmm
from mlmpipe.engine.survey import fit_survey_lmm
from mlmpipe.engine.survey_glmm import fit_survey_glmm
from mlmpipe.errors import PlanError

BACKENDS = ("mlmpipe", "statsmodels")


def fit(
    formula: str,
    data: pd.DataFrame,
    reml: bool | None = None,
    backend: str = "mlmpipe",
    family: str = "gaussian",
    link: str | None = None,
    nagq: int = 1,
    weights: str | Sequence[float] | np.ndarray | pd.Series | None = None,
    correlation: str | None = None,
    variance: str | None = None,
    prior: Any = None,
    sampling_weights: dict[str, str] | None = None,
    scaling: str = "none",
    **kwargs: Any,
):
    """Fit a linear mixed model given in lme4 syntax, e.g. ``y ~ x + (1 + x | school)``.

    ``backend="mlmpipe"`` (default) uses our penalized least-squares engine (Bates et al. 2015,
    J. Stat. Softw. 67(1)); ``backend="statsmodels"`` uses statsmodels MixedLM as a cross-check
    (one grouping factor only). Both return a result with the same ``to_dict()`` layout.

    ``family`` other than ``"gaussian"`` (``"binomial"``, ``"poisson"``, ``"negbin"`` (NB2, as
    glmmTMB's ``nbinom2``), ``"ordinal"`` (cumulative link, as ``ordinal::clmm``)) fits a GLMM with
    our engine by the Laplace approximation (``nagq=1``) or adaptive Gauss-Hermite quadrature
    (``nagq`` up to 25, one scalar random-effects term), as lme4's ``glmer``; ``link`` defaults to
    the canonical one (logit for binomial and ordinal, log for counts).

    ``weights``: observation weights, a column name of ``data`` or ``len(data)`` positive values,
    with lme4's meaning (residual variance sigma^2 / w_i; linear mixed models, mlmpipe backend).

    ``correlation`` (``"ar1(~ occasion | subject)"``, ``"car1(~ time | subject)"``) and ``variance``
    (``"ident(~ 1 | stratum)"``): R-side residual structures as nlme's ``corAR1``, ``corCAR1`` and
    ``varIdent`` (linear mixed models with nested random effects; :mod:`mlmpipe.engine.residual`).

    ``prior`` (e.g. ``"blme"``, ``"invwishart"``, ``{"type": "gamma", "shape": 2, "rate": 0.5}``
    or ``{"cov": ..., "by_group": {"school": ...}}``): Bayesian modal estimation, the posterior
    mode under priors on the random-effect covariances, as R's blme (Chung et al. 2013;
    :mod:`mlmpipe.engine.priors`).

    ``reml``: REML (default) or ML; ML is the default, and the only choice, with sampling weights.

    ``sampling_weights`` (e.g. ``{"level1": "w_student", "school": "w_school"}``): pseudo-maximum
    likelihood of a two-level model with sampling weights at each level (Rabe-Hesketh & Skrondal
    2006): ``level1`` names the row weight conditional on the cluster, every other key a grouping
    factor of the formula. ``scaling`` of the level-1 weights: ``"none"``, ``"size"`` (sum to the
    cluster size) or ``"effective"`` (sum to the effective cluster size). Gaussian models in closed
    form (:mod:`mlmpipe.engine.survey`), binomial/Poisson random-intercept models by adaptive
    quadrature (``nagq``; :mod:`mlmpipe.engine.survey_glmm`). Returns a
    :class:`~mlmpipe.engine.survey_results.SurveyFit` with sandwich SEs clustered at that factor.
    """
    if sampling_weights is not None:
        return _fit_survey(
            formula,
            data,
            reml,
            backend,
            family,
            link,
            nagq,
            weights,
            correlation,
            variance,
            prior,
            sampling_weights,
            scaling,
            kwargs,
        )
    if reml is None:
        reml = True
    if weights is not None and (family != "gaussian" or backend != "mlmpipe"):
        raise PlanError(
            "estimation.weights: observation weights need family 'gaussian' and backend "
            f"'mlmpipe' (got family {family!r}, backend {backend!r})"
        )
    if weights is not None:
        kwargs["weights"] = weights
    if (correlation is not None or variance is not None) and (
        family != "gaussian" or backend != "mlmpipe"
    ):
        raise PlanError(
            "estimation.residual: residual structures (correlation, variance) need family "
            f"'gaussian' and backend 'mlmpipe' (got family {family!r}, backend {backend!r})"
        )
    if correlation is not None:
        kwargs["correlation"] = correlation
    if variance is not None:
        kwargs["variance"] = variance
    if prior is not None:  # Bayesian modal estimation: our engine only
        if backend != "mlmpipe":
            raise PlanError("estimation.prior: a prior needs backend 'mlmpipe'")
        kwargs["prior"] = prior
    if family != "gaussian":
        if backend != "mlmpipe":
            raise PlanError(f"estimation.backend: family {family!r} needs backend 'mlmpipe'")

        return fit_glmm(formula, data, family=family, link=link, nagq=nagq, **kwargs)
    if backend == "mlmpipe":
        return fit_lmm(formula, data, reml=reml, **kwargs)
    if backend == "statsmodels":
        # deferred for start-up time: statsmodels and scipy.stats take 1-3 s to import
        from mlmpipe.backends.statsmodels_backend import fit_statsmodels

        return fit_statsmodels(formula, data, reml=reml, **kwargs)

    raise PlanError(
        f"estimation.backend: unknown backend {backend!r}; allowed: {', '.join(BACKENDS)}"
    )


def _fit_survey(
    formula,
    data,
    reml,
    backend,
    family,
    link,
    nagq,
    weights,
    correlation,
    variance,
    prior,
    sampling_weights,
    scaling,
    kwargs,
):
    if reml:
        raise PlanError(
            "estimation.reml: REML is not defined under pseudo-likelihood (sampling weights); "
            "use reml=False"
        )
    others = {
        "backend": backend != "mlmpipe",
        "weights": weights is not None,
        "correlation": correlation is not None,
        "variance": variance is not None,
        "prior": prior is not None,
    }
    clash = [k for k, v in others.items() if v]
    if clash:
        raise PlanError(
            f"sampling_weights: not available together with {', '.join(clash)} "
            "(pseudo-likelihood uses our engine, without observation weights, residual "
            "structures or priors)"
        )
    extra = set(kwargs) - {"alpha", "optimizer", "blas_threads"}
    if extra:
        raise PlanError(f"sampling_weights: unsupported argument(s) {', '.join(sorted(extra))}")
    if family == "gaussian":
        return fit_survey_lmm(formula, data, sampling_weights, scaling=scaling, **kwargs)
    if family in ("binomial", "poisson"):
        return fit_survey_glmm(
            formula, data, sampling_weights, family, link, scaling=scaling, nagq=nagq, **kwargs
        )
    raise PlanError(
        f"sampling_weights: family {family!r} is not available; allowed: gaussian, binomial, poisson"
    )
