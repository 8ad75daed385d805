"""Fitting a linear mixed model with an R-side residual structure (:mod:`mlmpipe.engine.residual`):
the profiled (RE)ML deviance of the whitened model plus ``log|R|``, minimized over theta and the
residual parameters together; Satterthwaite df over (theta, residual parameters, sigma)."""

from __future__ import annotations

import numpy as np

from mlmpipe.engine.lmm import LinearMixedModel
from mlmpipe.engine.optimize import check_convergence, optimize_theta, report_problems
from mlmpipe.engine.residual import ResidualStructure
from mlmpipe.engine.results import LmmResult
from mlmpipe.engine.satterthwaite import satterthwaite_df, varpar_covariance
from mlmpipe.errors import EstimationError, PlanError


class ResidualModel:
    """A ``LinearMixedModel`` whose cross-products follow the residual parameters ``a``.

    ``objective(x)`` with ``x = (theta, a)``; ``deviance_varpar``, ``factorize_cached`` and
    ``vcov_beta`` take ``(theta, a[, sigma])`` so :func:`satterthwaite_df` differentiates in all
    variance parameters."""

    def __init__(self, model: LinearMixedModel, structure: ResidualStructure) -> None:
        self.model = model
        self.rs = structure
        m = model
        for r in m.reterms:
            codes = r.term.codes
            subj = structure.subject_codes
            first = np.full(subj.max() + 1, -1)
            first[subj] = codes
            if np.any(first[subj] != codes):
                raise EstimationError(
                    f"residual structure within {structure.spec.subject!r}: the random-effects "
                    f"term of {r.term.group!r} does not group whole subjects (crossed designs are "
                    "not supported with a residual structure yet)"
                )
        self._raw = np.column_stack([m.X, m.y] + [m.reterms[i].term.Z for i in m.order])
        self._qs = [m.reterms[i].q for i in m.order]
        self._a: bytes | None = None
        self.ntheta = m.ntheta
        self.p = m.p
        self.n = m.n
        self.reml = m.reml

    def set_params(self, a: np.ndarray) -> None:
        a = np.asarray(a, float)
        key = a.tobytes()
        if key == self._a:
            return
        W, logdet = self.rs.whiten(a, self._raw)
        p = self.model.p
        Zc, k = [], p + 1
        for q in self._qs:
            Zc.append(W[:, k : k + q])
            k += q
        self.model.set_whitened(W[:, :p], W[:, p], Zc, -logdet)
        self._a = key

    def objective(self, x: np.ndarray) -> float:
        try:
            self.set_params(x[self.ntheta :])
        except np.linalg.LinAlgError:
            return np.inf
        return self.model.objective(x[: self.ntheta])

    def factorize_cached(self, x: np.ndarray):
        self.set_params(x[self.ntheta :])
        return self.model.factorize(x[: self.ntheta])

    def deviance_varpar(self, varpar: np.ndarray) -> float:
        self.set_params(varpar[self.ntheta : -1])
        return self.model.deviance_varpar(np.r_[varpar[: self.ntheta], varpar[-1]])

    def vcov_beta(self, f, sigma: float) -> np.ndarray:
        return self.model.vcov_beta(f, sigma)


def fit_with_residual(
    design,
    structure: ResidualStructure,
    reml: bool = True,
    df_method: str = "satterthwaite",
    alpha: float = 0.05,
    optimizer: str = "bobyqa",
) -> LmmResult:
    """Fit ``design`` with the residual ``structure`` by REML or ML (see module doc)."""
    if df_method not in ("satterthwaite", "residual", "none"):
        raise PlanError(
            f"df_method: {df_method!r} is not available with a residual structure; allowed: "
            "satterthwaite, residual, none"
        )
    model = LinearMixedModel(design, reml=reml)
    rm = ResidualModel(model, structure)
    start = np.concatenate([r.theta_start() for r in model.reterms] + [structure.start()])
    lower = np.r_[model.lower, np.full(structure.npar, -np.inf)]
    x, optsum = optimize_theta(rm.objective, start, lower, optimizer=optimizer)
    check_convergence(rm.objective, x, lower, optsum)
    theta, a = x[: model.ntheta], x[model.ntheta :]
    rm.set_params(a)
    f = model.factorize(theta)
    sigma = model.sigma_from(f)
    beta = model.beta_from(f)
    vcov = model.vcov_beta(f, sigma)
    msgs = list(model.warnings)
    report_problems(optsum, msgs, stacklevel=4)
    # asymptotic covariance of all variance parameters (theta, a, sigma): 2 H^{-1} of the deviance
    cov = varpar_covariance(rm, np.append(x, sigma))
    nt = model.ntheta
    cov_a = cov[nt : nt + structure.npar, nt : nt + structure.npar]
    rm.set_params(a)  # the derivatives moved the parameters
    if df_method == "satterthwaite":
        df = satterthwaite_df(rm, x, sigma, vcov, A=cov)
        rm.set_params(a)
    elif df_method == "residual":
        df = np.full(model.p, float(model.n - model.p))
    else:
        df = np.full(model.p, np.inf)
    model.nresid_par = structure.npar
    res = LmmResult(model, theta, f, beta, sigma, vcov, df, optsum, msgs, alpha, df_method)
    res.residual = structure.describe(a, cov_a if np.all(np.isfinite(cov_a)) else None)
    return res
