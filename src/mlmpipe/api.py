"""The public entry point: ``mlmpipe.fit``."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mlmpipe.engine.fit import fit_lmm
from mlmpipe.engine.glmm import fit_glmm
from mlmpipe.errors import PlanError

BACKENDS = ("mlmpipe", "statsmodels")


def fit(
    formula: str,
    data: pd.DataFrame,
    reml: bool = True,
    backend: str = "mlmpipe",
    family: str = "gaussian",
    link: str | None = None,
    nagq: int = 1,
    prior: Any = None,
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

    ``prior`` (e.g. ``"blme"``, ``"invwishart"``, ``{"type": "gamma", "shape": 2, "rate": 0.5}``
    or ``{"cov": ..., "by_group": {"school": ...}}``): Bayesian modal estimation, the posterior
    mode under priors on the random-effect covariances, as R's blme (Chung et al. 2013;
    :mod:`mlmpipe.engine.priors`).
    """
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
