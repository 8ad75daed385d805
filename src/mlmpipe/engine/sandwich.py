"""Cluster-robust (sandwich) covariance of a pseudo-maximum-likelihood estimate.

For a pseudo-log-likelihood ``l(phi) = sum_j l_j(phi)`` summed over top-level clusters (PSUs),
with ``s_j`` the gradient of cluster j's weighted contribution and ``H`` the Hessian of ``l``,

    V = c * H^{-1} (sum_j s_j s_j') H^{-1},    c = G / (G - 1)  (G clusters),

the linearisation (Binder 1983) estimator that Stata's ``mixed [pw=]`` reports with
``vce(cluster)`` at the top level; ``c`` is the small-sample factor Stata applies to clustered
robust variances of ML estimators (no ``(N-1)/(N-k)`` term). Rabe-Hesketh & Skrondal 2006,
JRSS A 169(4), eq. (9).
"""

from __future__ import annotations

import numpy as np

#: the small-sample factor's description, recorded with every result
SMALL_SAMPLE = "G/(G-1), G = number of top-level clusters (as Stata's vce(cluster))"


def cluster_sandwich(scores: np.ndarray, hessian: np.ndarray) -> np.ndarray:
    """Sandwich covariance from per-cluster scores ``(G, k)`` and the total Hessian ``(k, k)``
    of the pseudo-log-likelihood (negative definite at a maximum)."""
    G = scores.shape[0]
    bread = np.linalg.inv(-hessian)
    meat = scores.T @ scores
    V = G / (G - 1) * bread @ meat @ bread
    return 0.5 * (V + V.T)
