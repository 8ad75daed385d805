"""Satterthwaite degrees of freedom for fixed effects of a linear mixed model.

For a contrast ``l``, ``df = 2 (l'C l)^2 / (g' A g)`` where ``C = Var(beta)`` as a function of the
variance parameters ``(theta, sigma)``, ``g`` the gradient of ``l'C l`` with respect to them, and
``A = 2 H^{-1}`` their asymptotic covariance from the Hessian ``H`` of the deviance (Satterthwaite 1946;
Kuznetsova, Brockhoff & Christensen 2017, J. Stat. Softw. 82(13), the method of lmerTest).
"""

from __future__ import annotations

import numpy as np

from mlmpipe.engine.numderiv import hessian, jacobian


def varpar_covariance(model, varpar: np.ndarray, tol: float = 1e-8) -> np.ndarray:
    """``2 H^{-1}`` over the positive eigenvalues of the deviance Hessian in (theta, sigma)."""
    H = hessian(model.deviance_varpar, varpar)
    w, V = np.linalg.eigh(H)
    pos = w > tol
    return 2.0 * (V[:, pos] / w[pos]) @ V[:, pos].T


def vcov_jacobian(model, varpar: np.ndarray) -> np.ndarray:
    """d Var(beta) / d varpar, shape (p, p, k)."""

    def vcov(vp: np.ndarray) -> np.ndarray:
        f = model.factorize_cached(vp[:-1])
        return model.vcov_beta(f, vp[-1])

    return jacobian(vcov, varpar)


def satterthwaite_df(
    model, theta: np.ndarray, sigma: float, vcov: np.ndarray, A: np.ndarray | None = None
) -> np.ndarray:
    """Satterthwaite df for each fixed-effect coefficient (``l`` = unit vectors); ``A``: an
    already computed :func:`varpar_covariance` at (theta, sigma)."""
    varpar = np.append(np.asarray(theta, float), sigma)
    if A is None:
        A = varpar_covariance(model, varpar)
    J = vcov_jacobian(model, varpar)
    p = vcov.shape[0]
    df = np.empty(p)
    for i in range(p):
        g = J[i, i, :]
        denom = float(g @ A @ g)
        df[i] = 2.0 * vcov[i, i] ** 2 / denom if denom > 0 else np.inf
    return df


def contrast_df(
    model, theta: np.ndarray, sigma: float, vcov: np.ndarray, L: np.ndarray
) -> tuple[float, float]:
    """(variance, Satterthwaite df) of the single contrast ``L beta``."""
    varpar = np.append(np.asarray(theta, float), sigma)
    A = varpar_covariance(model, varpar)
    J = vcov_jacobian(model, varpar)
    var = float(L @ vcov @ L)
    g = np.einsum("i,ijk,j->k", L, J, L)
    denom = float(g @ A @ g)
    return var, (2.0 * var**2 / denom if denom > 0 else np.inf)
