"""Predicted probabilities, counts and category probabilities of a GLMM, cluster-specific and
population-averaged, with confidence intervals.

For a row with fixed-effects covariates ``x`` and random-effects covariates ``z_g`` (one per grouping
factor ``g``, ``b_g ~ N(0, Sigma_g)`` independent), the linear predictor is
``eta = x'beta + sum_g z_g'b_g``. Three predictions are reported (Skrondal & Rabe-Hesketh 2009,
J. R. Stat. Soc. A 172(3), on conditional and marginal effects; Hedeker & Gibbons 2006, ch. 9):

* **conditional, typical cluster** (``b = 0``): ``mu = h(x'beta)`` with ``h`` the inverse link, as
  lme4's ``predict(m, newdata, re.form = NA, type = "response")``;
* **cluster-specific** (cluster ``j``): ``mu_j = h(x'beta + z'b_j)`` at the conditional modes ``b_j``;
* **population-averaged**: ``E_b[h(eta)]``. The random part ``sum_g z_g'b_g`` of a row is normal with
  mean 0 and variance ``s^2 = sum_g z_g' Sigma_g z_g``, so for any number of grouping factors and
  vector random effects the average is the one-dimensional integral
  ``integral h(x'beta + s t) phi(t) dt``, computed by Gauss-Hermite quadrature on ``GH_NODES``
  nodes (no Monte Carlo, nothing to seed). Closed forms check it: probit ``Phi(x'beta / sqrt(1 + s^2))``
  and log ``exp(x'beta + s^2 / 2)`` (Zeger, Liang & Albert 1988, Biometrics 44).

Intervals: the delta method on the link scale, back-transformed (so they stay inside the support).
Conditional: ``x'beta +- z_{1-alpha/2} se``, ``se^2 = x'V x``: a typical cluster's interval has the
uncertainty of beta only (it does not depend on the variance components); a named cluster's adds
``z' C_j z``, the conditional covariance of its mode ``b_j`` (as lme4's ``condVar`` and merTools'
``predictInterval``), ignoring the covariance of ``b_j`` with beta-hat and the uncertainty of theta.
Population-averaged: the interval is formed for ``zeta = g(mu_PA)`` (g the link) by the delta method
over ``(theta, beta)`` jointly, with their covariance ``2 H^{-1}`` from the finite-difference Hessian
``H`` of the Laplace/AGHQ deviance that the fit already computes for its SEs (``engine/glmm.py``):
``d mu_PA / d beta = x E_t[h'(eta + s t)]``, ``d mu_PA / d theta_k = E_t[h'(eta + s t) t] ds/d theta_k``
with ``ds/d theta_k = w_c z_r / s`` for the entry ``(r, c)`` of the relative factor ``T`` holding
``theta_k`` (``Sigma = T T'``, ``w = T'z``), and ``d zeta = d mu_PA / h'(zeta)``. At the MLE the
delta-method variance does not depend on how the variance components are parametrized (SD, log SD
as glmmTMB, variance), since the inverse observed information transforms with the Jacobian; the
choice that matters is the scale of the interval, the link scale of ``mu_PA`` (Bates et al. 2015;
Skrondal & Rabe-Hesketh 2009). Without a usable Hessian (nAGQ = 0, or a (theta, beta) block that is
not positive definite, e.g. at a singular fit) the variance components are treated as known and
``PredictionModel.vcov_full`` is None. Ordinal (cumulative link) models give the probability of
every category, ``P(Y = k) = F(a_k - eta) - F(a_{k-1} - eta)``, averaged the same way, with the
delta method on the logit of each category probability over the joint covariance of
``(theta, beta, thresholds)`` (``(beta, thresholds)`` for conditional predictions).

Every prediction also reports ``link_fit`` and ``link_se``, the estimate and SE on the scale of its
interval (eta, zeta, or the logit of a category probability): the quantities that multiple
imputation pools (``effects/mi_predictions.py``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy import special, stats

from mlmpipe.engine.links import LINKS

GH_NODES = 200  # nodes of the population average; measured on the probit closed form:
# relative error 7e-16 at s = 3, 1.5e-8 at s = 5 (64 nodes: 3e-7 and 9e-4)


@dataclass(frozen=True)
class PredictionModel:
    """What predictions need from a fitted GLMM.

    ``sigmas``: random-effects covariance per term (``q x q``), in the order of the ``Zs`` passed to
    the functions below. Ordinal: ``thresholds`` ``a_0 < ... < a_{K-2}`` and ``vcov_joint``, the
    covariance of ``(beta, thresholds)`` (None: point predictions only for the categories).
    ``factors``: the relative factors ``T_g`` (``Sigma_g = T_g T_g'``) and ``theta_cells`` the
    ``(rows, cols)`` of ``T_g`` holding each theta entry, in theta's order; ``vcov_full``: the
    covariance of ``(theta, beta)`` (ordinal: ``(theta, beta, thresholds)``), None when the variance
    components are to be treated as known.
    """

    family: str
    link: str
    beta: np.ndarray
    vcov: np.ndarray
    sigmas: tuple[np.ndarray, ...] = ()
    thresholds: np.ndarray | None = None
    vcov_joint: np.ndarray | None = None
    categories: tuple = ()
    factors: tuple[np.ndarray, ...] = ()
    theta_cells: tuple[tuple[np.ndarray, np.ndarray], ...] = ()
    vcov_full: np.ndarray | None = None


@functools.lru_cache(maxsize=8)
def gh_rule(n: int = GH_NODES) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``t`` and weights ``w`` with ``sum w f(t) ~= integral f(t) phi(t) dt`` (cached,
    read-only: the 200-node rule costs an eigen-decomposition)."""
    t, w = hermegauss(n)
    w = w / np.sqrt(2 * np.pi)
    t.flags.writeable = w.flags.writeable = False
    return t, w


def random_sd(Zs: list[np.ndarray], sigmas: tuple[np.ndarray, ...]) -> np.ndarray:
    """Per-row SD ``s`` of the random part of eta: ``s^2 = sum_g z_g' Sigma_g z_g``."""
    n = Zs[0].shape[0] if Zs else 0
    var = np.zeros(n)
    for Z, S in zip(Zs, sigmas, strict=True):
        Z = np.asarray(Z, float)
        var += np.einsum("ia,ab,ib->i", Z, np.asarray(S, float), Z)
    return np.sqrt(np.maximum(var, 0.0))


def random_sd_jacobian(Zs: list[np.ndarray], pm: PredictionModel) -> np.ndarray:
    """``ds / d theta`` per row (rows x ntheta) of ``s = sqrt(sum_g ||T_g'z_g||^2)``: for the theta
    entry at cell ``(r, c)`` of ``T_g``, ``d s^2 = 2 w_c z_r`` with ``w = T_g'z_g``; 0 where s = 0
    (the population average is even in s, so its derivative in theta vanishes there)."""
    cols = []
    for Z, T, (rows, cc) in zip(Zs, pm.factors, pm.theta_cells, strict=True):
        Z = np.asarray(Z, float)
        W = Z @ np.asarray(T, float)  # rows x q: w' = z'T
        cols.append(W[:, cc] * Z[:, rows])
    d_s2 = 2 * np.hstack(cols) if cols else np.zeros((len(Zs[0]) if Zs else 0, 0))
    s = random_sd(Zs, pm.sigmas)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(s[:, None] > 0, d_s2 / (2 * s[:, None]), 0.0)


def _interval(fit: np.ndarray, low: np.ndarray, high: np.ndarray) -> dict[str, np.ndarray]:
    return {"fit": fit, "low": np.minimum(low, high), "high": np.maximum(low, high)}


def mean_response(
    pm: PredictionModel,
    X: np.ndarray,
    s: np.ndarray | float = 0.0,
    offset: np.ndarray | None = None,
    shift: np.ndarray | None = None,
    extra_var: np.ndarray | None = None,
    alpha: float = 0.05,
    nodes: int = GH_NODES,
    ds_dtheta: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Mean response ``E_t[h(x'beta + shift + s t)]`` per row with its (1 - alpha) interval.

    ``s = 0`` gives the conditional prediction (``shift`` = ``z'b_j`` for a named cluster, whose
    conditional variance ``z' C_j z`` is ``extra_var``); ``s > 0`` the population average, whose
    interval includes the uncertainty of theta when ``pm.vcov_full`` and ``ds_dtheta``
    (``random_sd_jacobian``) are given. Returns ``eta`` (x'beta + shift + offset), ``se_eta``,
    ``link_fit`` and ``link_se`` (eta or zeta = g(mu_PA)) and, on the response scale, ``fit``,
    ``low``, ``high``.
    """
    if pm.family == "ordinal":
        raise ValueError("ordinal models: use category_probabilities")
    link = LINKS[pm.link]
    X = np.asarray(X, float)
    eta = X @ pm.beta
    eta = eta + (0.0 if offset is None else offset) + (0.0 if shift is None else shift)
    var = np.einsum("ij,jk,ik->i", X, pm.vcov, X)
    var = var + (0.0 if extra_var is None else extra_var)
    se = np.sqrt(np.maximum(var, 0.0))
    q = stats.norm.ppf(1 - alpha / 2)
    s = np.broadcast_to(np.asarray(s, float), eta.shape)
    out = {"eta": eta, "se_eta": se, "sd_random": np.array(s)}
    if not np.any(s > 0):
        return (
            out
            | {"link_fit": eta, "link_se": se}
            | _interval(link.linkinv(eta), link.linkinv(eta - q * se), link.linkinv(eta + q * se))
        )
    t, w = gh_rule(nodes)
    E = eta[:, None] + s[:, None] * t[None, :]
    mu = link.linkinv(E) @ w
    dens = link.mu_eta(E)
    dmu = dens @ w
    zeta = link.linkfun(mu)
    if pm.vcov_full is not None and ds_dtheta is not None:
        grad = np.hstack([(dens @ (w * t))[:, None] * ds_dtheta, dmu[:, None] * X])
        var_mu = np.einsum("ij,jk,ik->i", grad, pm.vcov_full, grad)
        se_zeta = np.sqrt(np.maximum(var_mu, 0.0)) / link.mu_eta(zeta)
    else:
        se_zeta = se * dmu / link.mu_eta(zeta)
    return (
        out
        | {"link_fit": zeta, "link_se": se_zeta}
        | _interval(mu, link.linkinv(zeta - q * se_zeta), link.linkinv(zeta + q * se_zeta))
    )


def _cdf_pdf(link: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if link == "logit":
        F = special.expit(x)
        return F, F * (1 - F)
    return stats.norm.cdf(x), stats.norm.pdf(x)


def category_probabilities(
    pm: PredictionModel,
    X: np.ndarray,
    s: np.ndarray | float = 0.0,
    shift: np.ndarray | None = None,
    extra_var: np.ndarray | None = None,
    alpha: float = 0.05,
    nodes: int = GH_NODES,
    ds_dtheta: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Ordinal ``P(Y = k)`` per row (rows x K) averaged over ``eta + s t`` (``s = 0``: conditional),
    with delta-method intervals on the logit of each probability (NaN without ``vcov_joint``;
    population averages over ``(theta, beta, thresholds)`` given ``pm.vcov_full`` and
    ``ds_dtheta``)."""
    X = np.asarray(X, float)
    a = np.asarray(pm.thresholds, float)
    n, p, K = X.shape[0], X.shape[1], len(a) + 1
    eta = X @ pm.beta + (0.0 if shift is None else shift)
    s = np.broadcast_to(np.asarray(s, float), eta.shape)
    t, w = gh_rule(nodes) if np.any(s > 0) else (np.zeros(1), np.ones(1))
    E = eta[:, None] + s[:, None] * t[None, :]  # rows x nodes
    F, f = _cdf_pdf(pm.link, a[None, :, None] - E[:, None, :])  # rows x (K-1) x nodes
    cum, dens = F @ w, f @ w  # rows x (K-1): P(Y <= k) and its derivative in a_k
    zeros, ones = np.zeros((n, 1)), np.ones((n, 1))
    prob = np.diff(np.hstack([zeros, cum, ones]), axis=1)
    out: dict[str, np.ndarray] = {"eta": eta, "sd_random": np.array(s), "fit": prob}
    pc = np.clip(prob, 1e-12, 1 - 1e-12)
    lg = special.logit(pc)
    if pm.vcov_joint is None:
        nan = np.full_like(prob, np.nan)
        return out | {"low": nan, "high": nan, "link_fit": lg, "link_se": nan}
    with_theta = pm.vcov_full is not None and ds_dtheta is not None and np.any(s > 0)
    nt = ds_dtheta.shape[1] if with_theta else 0
    # gradient of P(Y <= k) in (theta, beta, a): (-E[f t] ds/dtheta, -dens_k x, dens_k e_k)
    G = np.zeros((n, K + 1, nt + p + K - 1))
    dens_t = (f * t[None, None, :]) @ w if with_theta else None
    for k in range(K - 1):
        if with_theta:
            G[:, k + 1, :nt] = -dens_t[:, k : k + 1] * ds_dtheta
        G[:, k + 1, nt : nt + p] = -dens[:, k : k + 1] * X
        G[:, k + 1, nt + p + k] = dens[:, k]
    Gp = np.diff(G, axis=1)  # rows x K x (nt + p + K - 1): gradient of P(Y = k)
    V = pm.vcov_full if with_theta else pm.vcov_joint
    var = np.einsum("ika,ab,ikb->ik", Gp, V, Gp)
    if extra_var is not None:
        var = var + (dens_diff(dens) ** 2) * extra_var[:, None]
    se_logit = np.sqrt(np.maximum(var, 0.0)) / (pc * (1 - pc))
    q = stats.norm.ppf(1 - alpha / 2)
    return out | {
        "low": special.expit(lg - q * se_logit),
        "high": special.expit(lg + q * se_logit),
        "link_fit": lg,
        "link_se": se_logit,
    }


def dens_diff(dens: np.ndarray) -> np.ndarray:
    """``d P(Y = k) / d eta`` from ``d P(Y <= k) / d a_k`` (= -d/d eta): rows x K."""
    n = dens.shape[0]
    return -np.diff(np.hstack([np.zeros((n, 1)), dens, np.zeros((n, 1))]), axis=1)
