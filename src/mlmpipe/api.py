"""The public entry point: ``mlmpipe.fit``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
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
    weights: str | Sequence[float] | np.ndarray | pd.Series | None = None,
    correlation: str | None = None,
    variance: str | None = None,
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

    ``weights``: observation weights, a column name of ``data`` or ``len(data)`` positive values,
    with lme4's meaning (residual variance sigma^2 / w_i; linear mixed models, mlmpipe backend).

    ``correlation`` (``"ar1(~ occasion | subject)"``, ``"car1(~ time | subject)"``) and ``variance``
    (``"ident(~ 1 | stratum)"``): R-side residual structures as nlme's ``corAR1``, ``corCAR1`` and
    ``varIdent`` (linear mixed models with nested random effects; :mod:`mlmpipe.engine.residual`).

    ``prior`` (e.g. ``"blme"``, ``"invwishart"``, ``{"type": "gamma", "shape": 2, "rate": 0.5}``
    or ``{"cov": ..., "by_group": {"school": ...}}``): Bayesian modal estimation, the posterior
    mode under priors on the random-effect covariances, as R's blme (Chung et al. 2013;
    :mod:`mlmpipe.engine.priors`).
    """
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
