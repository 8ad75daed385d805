"""Adaptive Gauss-Hermite quadrature (AGHQ) of a GLMM likelihood with one scalar random-effects term.

With a single scalar term the marginal likelihood factors over the levels ``j`` of the grouping factor:

    p(y) = prod_j  int p(y_j | u) phi(u) du.

Each integral is centred at the conditional mode ``u_j`` from PIRLS and scaled by ``s_j = 1 / L_jj``,
the conditional SD of the Laplace approximation (``L`` the Cholesky factor of
``Lambda'Z'WZ Lambda + I``, diagonal here). With the Gauss-Hermite rule ``(z_k, w_k)`` for the
standard normal density,

    -2 log p(y) = sum_j [ 2 log L_jj - 2 log sum_k w_k exp(-(D_j(u_j + s_j z_k) - z_k^2) / 2) ],

``D_j(u) = -2 log p(y_j | u) + u^2``. One node (``z = 0``) is the Laplace approximation
(Pinheiro & Bates 1995, J. Comput. Graph. Stat. 4(1); Liu & Pierce 1994, Biometrika 81(3); the
``nAGQ`` of lme4's ``glmer``).
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import logsumexp

MAX_NAGQ = 25


@cache
def gauss_hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and log-weights of the n-point rule for the standard normal density (weights sum to 1)."""
    z, w = hermegauss(n)
    return z, np.log(w / np.sqrt(2 * np.pi))


def aghq_deviance(
    cond_m2ll,
    codes: np.ndarray,
    zcol: np.ndarray,
    scale: float,
    eta_fixed: np.ndarray,
    u: np.ndarray,
    Ldiag: np.ndarray,
    nagq: int,
) -> float:
    """``-2 log p(y)`` by AGHQ for a scalar term with ``b_j = scale * u_j`` and column ``zcol``.

    ``cond_m2ll(eta)`` returns ``-2 log p(y_i | eta_i)`` per observation; ``eta_fixed`` is the linear
    predictor without the random effects; ``u`` the conditional modes, ``Ldiag`` the diagonal of L.
    """
    z, logw = gauss_hermite(nagq)
    m = u.size
    s = 1.0 / Ldiag
    # all nodes at once: row k holds node k (cond_m2ll broadcasts over the rows)
    uk = u[None, :] + s[None, :] * z[:, None]  # (nodes, m)
    eta = eta_fixed[None, :] + (zcol * scale)[None, :] * uk[:, codes]
    slot = (np.arange(z.size)[:, None] * m + codes[None, :]).ravel()
    dev = np.bincount(slot, weights=cond_m2ll(eta).ravel(), minlength=z.size * m)
    terms = logw[:, None] - 0.5 * (dev.reshape(z.size, m) + uk * uk - (z * z)[:, None])
    return float(np.sum(2 * np.log(Ldiag) - 2 * logsumexp(terms, axis=0)))
