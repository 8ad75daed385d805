"""Multilevel imputation of categorical variables with more than two categories (latent normal).

A categorical variable with ``K`` categories is the observed side of continuous latent variables
that follow the same (nested) random-intercept model as a continuous variable at that level, with
residual variance fixed at 1 — the latent-variable formulation of Albert & Chib (1993) that
Goldstein, Carpenter, Kenward & Levin (2009, Statistical Modelling 9), Carpenter & Kenward (2013,
ch. 9; R package jomo, Quartagno & Carpenter) and Enders, Keller & Levy (2018, "A fully conditional
specification approach to multilevel imputation of categorical and continuous variables",
Psychological Methods 23) use for multilevel imputation.

* **Ordered** categories: one latent ``z = X beta + sum_h u_h + e``, ``e ~ N(0, 1)``, category ``k``
  when ``c_k <= z < c_{k+1}`` with ``c_1 = 0`` (the intercept is in ``X``) — a random-intercept
  cumulative probit model. One sweep: the thresholds given ``beta, u`` with ``z`` integrated out
  (independence Metropolis–Hastings with a Laplace proposal on ``log(c_k - c_{k-1})``, flat prior
  on the thresholds; collapsing as in Cowles 1996), the latents of the observed rows from normals
  truncated to their category's interval, ``beta, u, tau2`` given the latents
  (:func:`~mlmpipe.missing.mi_three_level.draw_ml_norm`), and the missing rows' latents from the
  model, cut at the thresholds.
* **Unordered** categories: one latent per non-reference category (multinomial probit with
  independent unit-variance latents; the reference category is taken when every latent is below 0,
  else the category of the largest latent; McCulloch & Rossi 1994 with identity covariance, which is
  less flexible than jomo's unstructured covariance). Each latent has its own random-intercept
  model; a sweep updates each latent of the observed rows given the others (truncated normal), then
  its model, then draws the missing rows' latents.

Parameters are drawn from their posterior in every sweep (fully Bayesian, as ``2l.pan``), so the
imputations reflect parameter uncertainty. At the top level the model has no random intercept
(single-level probit on the cluster aggregates, the categorical analogue of ``2lonly``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import log_ndtr, ndtr, ndtri

from mlmpipe.missing.mi_three_level import MultiLevelState, draw_ml_norm, init_ml_state


def rtruncnorm(mean: np.ndarray, lo: np.ndarray, hi: np.ndarray, rng) -> np.ndarray:
    """Draws of ``N(mean, 1)`` truncated to ``[lo, hi]`` by inversion, on the side of the
    interval nearer the mean's left tail so that the CDF stays resolvable far out."""
    a, b = np.asarray(lo - mean, float), np.asarray(hi - mean, float)
    flip = a > 0
    a2, b2 = np.where(flip, -b, a), np.where(flip, -a, b)
    pa, pb = ndtr(a2), ndtr(b2)
    u = pa + rng.random(len(a2)) * (pb - pa)
    z = np.clip(ndtri(np.clip(u, 1e-300, 1.0 - 1e-16)), a2, b2)
    return mean + np.where(flip, -z, z)


def _log_prob(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """log(Phi(hi) - Phi(lo)), stable in both tails."""
    flip = lo > 0
    a, b = np.where(flip, -hi, lo), np.where(flip, -lo, hi)
    lb, la = log_ndtr(b), log_ndtr(a)
    return lb + np.log1p(-np.exp(np.minimum(la - lb, -1e-300)))


@dataclass
class CategoricalState:
    """Latents (rows x latent columns), one nested random-intercept model per latent column,
    the regression weights of the last sweep, and the cut points (ordered) or ``None``."""

    z: np.ndarray
    models: list
    beta: list
    cuts: np.ndarray | None


def init_categorical(
    codes: np.ndarray, obs: np.ndarray, K: int, ordered: bool, n_units
) -> CategoricalState:
    """Start at the marginal proportions: thresholds at the normal quantiles of the cumulative
    proportions (ordered) or intercept-only latents (unordered)."""
    y = codes[obs].astype(int)
    p = np.bincount(y, minlength=K) / len(y)
    if ordered:
        q = ndtri(np.clip(np.cumsum(p)[:-1], 1e-6, 1 - 1e-6))
        cuts = np.r_[-np.inf, q - q[0], np.inf]
        models = [init_ml_state(np.zeros(1), n_units, sigma2=1.0)]
        return CategoricalState(np.zeros((len(codes), 1)), models, [np.array([-q[0]])], cuts)
    mu = [
        ndtri(np.clip(p[k], 1e-6, 1 - 1e-6)) - ndtri(np.clip(p[0], 1e-6, 1 - 1e-6))
        for k in range(1, K)
    ]
    models = [init_ml_state(np.zeros(1), n_units, sigma2=1.0) for _ in range(K - 1)]
    return CategoricalState(
        np.zeros((len(codes), K - 1)), models, [np.array([m]) for m in mu], None
    )


def _eta(X, groups, model: MultiLevelState, beta) -> np.ndarray:
    b = np.zeros(X.shape[1])
    b[: len(beta)] = beta[: X.shape[1]]
    eta = X @ b
    for h, gr in enumerate(groups):
        eta = eta + model.u[h][gr]
    return eta


def _num_derivs(f, d: np.ndarray, h: float = 1e-4):
    """Central-difference gradient and Hessian of ``f`` at ``d`` (few dimensions)."""
    k = len(d)
    E = np.eye(k) * h
    grad = np.array([(f(d + E[i]) - f(d - E[i])) / (2 * h) for i in range(k)])
    H = np.empty((k, k))
    f0 = f(d)
    for i in range(k):
        H[i, i] = (f(d + E[i]) - 2 * f0 + f(d - E[i])) / (h * h)
        for j in range(i):
            H[i, j] = H[j, i] = (
                f(d + E[i] + E[j]) - f(d + E[i] - E[j]) - f(d - E[i] + E[j]) + f(d - E[i] - E[j])
            ) / (4 * h * h)
    return grad, H


def _draw_cuts(y: np.ndarray, eta: np.ndarray, cuts: np.ndarray, rng) -> np.ndarray:
    """Independence MH step for the free cut points ``c_2..c_{K-1}`` given the linear predictor."""
    K = len(cuts) - 1
    if K < 3:
        return cuts

    def unpack(d):
        return np.concatenate(([-np.inf, 0.0], np.cumsum(np.exp(d)), [np.inf]))

    keep = y > 0  # rows of the first category depend on the fixed cut point only
    y, eta = y[keep], eta[keep]

    def neg_logpost(d):  # flat prior on the cuts: Jacobian sum(d) on the log-gap scale
        c = unpack(d)
        return -(_log_prob(c[y] - eta, c[y + 1] - eta).sum() + d.sum())

    d0 = np.log(np.diff(cuts[1:-1]))
    mode = d0.copy()
    for _ in range(20):  # Newton steps from the current cut points
        grad, H = _num_derivs(neg_logpost, mode)
        try:
            step = np.linalg.solve(H, grad)
        except np.linalg.LinAlgError:
            return cuts
        if not np.all(np.isfinite(step)) or np.any(np.linalg.eigvalsh(H) <= 0):
            return cuts
        mode = mode - np.clip(step, -2.0, 2.0)
        if np.max(np.abs(step)) < 1e-3:  # proposal centre; the MH step corrects the rest
            break
    k = len(mode)
    try:
        C = np.linalg.cholesky(np.linalg.inv((H + H.T) / 2))
    except np.linalg.LinAlgError:
        return cuts
    prop = mode + C @ rng.standard_normal(k)

    def log_q(d):
        r = np.linalg.solve(C, d - mode)
        return -0.5 * r @ r

    log_acc = -neg_logpost(prop) + neg_logpost(d0) + log_q(d0) - log_q(prop)
    return unpack(prop) if np.log(rng.random()) < log_acc else cuts


def draw_categorical(
    codes: np.ndarray,
    X: np.ndarray,
    groups: list[np.ndarray],
    obs: np.ndarray,
    state: CategoricalState,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """One sweep of the latent-normal model; returns (category codes drawn for the missing rows,
    linear predictor(s) of all rows). ``codes``: current codes ``0..K-1`` (rows of the variable's
    level), ``groups``: random-intercept groupings of those rows (empty at the top level)."""
    y = codes[obs].astype(int)
    mis = ~obs
    if state.cuts is not None:
        model = state.models[0]
        eta = _eta(X, groups, model, state.beta[0])
        state.cuts = _draw_cuts(y, eta[obs], state.cuts, rng)
        c = state.cuts
        state.z[obs, 0] = rtruncnorm(eta[obs], c[y], c[y + 1], rng)
        _, eta, beta = draw_ml_norm(state.z[:, 0], X, groups, obs, model, rng, fixed_sigma2=True)
        state.beta[0] = beta
        state.z[mis, 0] = eta[mis] + rng.standard_normal(int(mis.sum()))
        draws = np.searchsorted(c[1:-1], state.z[mis, 0], side="right")
        return draws.astype(float), eta
    K1 = state.z.shape[1]
    etas = []
    for k in range(K1):
        model = state.models[k]
        eta = _eta(X, groups, model, state.beta[k])
        zo = state.z[obs]
        other = (
            np.delete(zo, k, axis=1).max(axis=1, initial=-np.inf)
            if K1 > 1
            else np.full(len(y), -np.inf)
        )
        mine = y == k + 1
        lo = np.where(mine, np.maximum(0.0, other), -np.inf)
        # another non-reference category observed: below that category's latent; reference: below 0
        hi = np.where(
            mine, np.inf, np.where(y == 0, 0.0, zo[np.arange(len(y)), np.maximum(y - 1, 0)])
        )
        state.z[obs, k] = rtruncnorm(eta[obs], lo, hi, rng)
        _, eta, beta = draw_ml_norm(state.z[:, k], X, groups, obs, model, rng, fixed_sigma2=True)
        state.beta[k] = beta
        state.z[mis, k] = eta[mis] + rng.standard_normal(int(mis.sum()))
        etas.append(eta)
    zm = state.z[mis]
    draws = np.where(zm.max(axis=1) < 0, 0, zm.argmax(axis=1) + 1)
    return draws.astype(float), np.stack(etas, 1)
