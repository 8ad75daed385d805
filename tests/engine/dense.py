"""Dense reference computations of the mixed-model quantities, straight from the definitions."""

from __future__ import annotations

import numpy as np

from mlmpipe.engine.lmm import LinearMixedModel


def dense_Z_Lambda(model: LinearMixedModel, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Full Z and Lambda in the model's internal term order."""
    Zs, Ls = [], []
    for pos, i in enumerate(model.order):
        r = model.reterms[i]
        Zs.append(model._Zs[pos].toarray())
        T = r.T(theta[model.theta_index[i]])
        Ls.append(np.kron(np.eye(r.m), T))
    nre = sum(L.shape[0] for L in Ls)
    Lam = np.zeros((nre, nre))
    k = 0
    for L in Ls:
        Lam[k : k + L.shape[0], k : k + L.shape[0]] = L
        k += L.shape[0]
    return np.hstack(Zs), Lam


def dense_loglik(model: LinearMixedModel, theta: np.ndarray, reml: bool) -> float:
    """-2 log-likelihood (or REML criterion) maximized over beta and sigma, via V = Z Lam Lam'Z' + I."""
    Z, Lam = dense_Z_Lambda(model, theta)
    X, y, n, p = model.X, model.y, model.n, model.p
    V = Z @ Lam @ Lam.T @ Z.T + np.eye(n)
    Vi = np.linalg.inv(V)
    beta = np.linalg.solve(X.T @ Vi @ X, X.T @ Vi @ y)
    r = y - X @ beta
    q = r @ Vi @ r
    _, logdetV = np.linalg.slogdet(V)
    if reml:
        _, logdetXVX = np.linalg.slogdet(X.T @ Vi @ X)
        nr = n - p
        return logdetV + logdetXVX + nr * (1 + np.log(2 * np.pi * q / nr))
    return logdetV + n * (1 + np.log(2 * np.pi * q / n))


def dense_condvar_blocks(model: LinearMixedModel, res) -> dict[str, np.ndarray]:
    """Per-level blocks of ``sigma^2 Lambda (Lambda'Z'Z Lambda + I)^{-1} Lambda'`` (lme4's
    condVar) by term name, in the layout of ``res.condvar()``."""
    Z, Lam = dense_Z_Lambda(model, res.theta)
    ZL = Z @ Lam
    C = res.sigma**2 * Lam @ np.linalg.inv(ZL.T @ ZL + np.eye(ZL.shape[1])) @ Lam.T
    out, k = {}, 0
    for i in model.order:
        r = model.reterms[i]
        out[r.name] = np.array(
            [
                C[k + l * r.q : k + (l + 1) * r.q, k + l * r.q : k + (l + 1) * r.q]
                for l in range(r.m)
            ]
        )
        k += r.nranef
    return out
