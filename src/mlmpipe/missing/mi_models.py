"""Imputation models: one Bayesian draw of the parameters and of the missing values per call.

* :func:`draw_2l_norm` — level-1 variables, random-intercept linear model
  ``x_ij = X_ij beta + u_j + e_ij``, ``u_j ~ N(0, tau2)``, ``e_ij ~ N(0, sigma2)``, one Gibbs sweep
  over ``beta | u, sigma2`` (flat prior), ``u | beta, sigma2, tau2`` (conjugate normal),
  ``sigma2 | beta, u`` and ``tau2 | u`` (scaled inverse chi-square), then
  ``x_mis ~ N(X beta + u_j, sigma2)``. The sampler state (u, sigma2, tau2) persists across the
  chained-equation iterations, so the chain of iterations is the Gibbs sampler of Schafer & Yucel
  (2002) as used by mice's ``2l.pan`` / ``2l.norm`` (van Buuren 2018, sec. 7.5), with a homogeneous
  residual variance.
* :func:`draw_norm` — level-2 variables at the cluster level (mice's ``2lonly.norm``): Bayesian
  linear regression, ``sigma2 ~ SS / chi2(n - p)``, ``beta ~ N(beta_hat, sigma2 (X'X)^-1)``
  (Rubin 1987, p. 167).
* :func:`pmm` — predictive mean matching (Little 1988): each missing unit takes the observed value
  of one of the ``k`` observed units whose predicted mean is closest to its own; used for binary
  variables on top of either model, so imputations stay in {0, 1}.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RIDGE = 1e-6  # relative ridge on X'X, as mice's ridge, guards near-collinear cluster means


@dataclass
class TwoLevelState:
    """Sampler state of one level-1 variable's random-intercept model."""

    u: np.ndarray
    sigma2: float
    tau2: float


def init_state(x_obs: np.ndarray, n_clusters: int) -> TwoLevelState:
    v = float(np.var(x_obs)) if len(x_obs) > 1 else 1.0
    v = v if v > 0 else 1.0
    return TwoLevelState(np.zeros(n_clusters), 0.8 * v, 0.2 * v)


def _beta_draw(X: np.ndarray, r: np.ndarray, sigma2: float, rng: np.random.Generator):
    xtx = X.T @ X
    xtx[np.diag_indices_from(xtx)] += RIDGE * np.maximum(np.diag(xtx), 1.0)
    c = np.linalg.cholesky(xtx)
    bhat = np.linalg.solve(c.T, np.linalg.solve(c, X.T @ r))
    # beta = bhat + sigma * (X'X)^{-1/2} z with (X'X)^{-1} = C^-T C^-1
    return bhat + np.sqrt(sigma2) * np.linalg.solve(c.T, rng.standard_normal(len(bhat))), bhat


def draw_2l_norm(
    x: np.ndarray,
    X: np.ndarray,
    g: np.ndarray,
    obs: np.ndarray,
    state: TwoLevelState,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One Gibbs sweep; returns (draws for the missing rows, linear predictor of all rows, beta).

    ``x``: current values (n,), ``X``: predictors (n, p) with intercept, ``g``: cluster index (n,)
    in ``0..J-1``, ``obs``: mask of observed rows. ``state`` is updated in place.
    """
    J = len(state.u)
    xo, Xo, go = x[obs], X[obs], g[obs]
    beta, _ = _beta_draw(Xo, xo - state.u[go], state.sigma2, rng)
    e = xo - Xo @ beta
    n_j = np.bincount(go, minlength=J).astype(float)
    s_j = np.bincount(go, weights=e, minlength=J)
    prec = n_j / state.sigma2 + 1.0 / state.tau2
    state.u = s_j / state.sigma2 / prec + rng.standard_normal(J) / np.sqrt(prec)
    resid = e - state.u[go]
    state.sigma2 = float(resid @ resid / rng.chisquare(len(xo)))
    # weakly informative scaled inverse chi-square prior (1 df, scale 1e-4 sigma2) keeps tau2 > 0
    state.tau2 = float((state.u @ state.u + 1e-4 * state.sigma2) / rng.chisquare(J + 1))
    eta = X @ beta + state.u[g]
    mis = ~obs
    draws = eta[mis] + np.sqrt(state.sigma2) * rng.standard_normal(int(mis.sum()))
    return draws, eta, beta


def draw_norm(
    x: np.ndarray, X: np.ndarray, obs: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Bayesian linear-regression draw; returns (draws for the missing rows, predicted means)."""
    xo, Xo = x[obs], X[obs]
    n, p = Xo.shape
    _, bhat = _beta_draw(Xo, xo, 1.0, rng)
    resid = xo - Xo @ bhat
    sigma2 = float(resid @ resid / rng.chisquare(max(n - p, 1)))
    beta, _ = _beta_draw(Xo, xo, sigma2, rng)
    eta = X @ beta
    mis = ~obs
    return eta[mis] + np.sqrt(sigma2) * rng.standard_normal(int(mis.sum())), eta


def pmm(
    eta_obs: np.ndarray,
    eta_mis: np.ndarray,
    x_obs: np.ndarray,
    rng: np.random.Generator,
    k: int = 5,
) -> np.ndarray:
    """Predictive mean matching: for each missing unit, the observed value of a random one of the
    ``k`` donors whose predicted mean is nearest."""
    n = len(eta_obs)
    k = max(1, min(k, n))
    order = np.argsort(eta_obs, kind="stable")
    sorted_eta = eta_obs[order]
    pos = np.searchsorted(sorted_eta, eta_mis)
    # the k nearest lie within the 2k sorted neighbours around the insertion point
    start = np.clip(pos - k, 0, max(n - 2 * k, 0))
    cand = start[:, None] + np.arange(min(2 * k, n))[None, :]
    dist = np.abs(sorted_eta[cand] - eta_mis[:, None])
    nearest = np.take_along_axis(cand, np.argsort(dist, axis=1, kind="stable")[:, :k], axis=1)
    pick = nearest[np.arange(len(eta_mis)), rng.integers(0, k, size=len(eta_mis))]
    return x_obs[order[pick]]
