"""The variance parameters of a linear mixed model on the SD/correlation scale.

lme4 stores each random-effects term's covariance as ``Sigma_k = sigma^2 T_k T_k'`` with ``T_k`` lower
triangular and theta its lower triangle column by column (Bates et al. 2015, J. Stat. Softw. 67(1),
eq. 4). For reporting and for profiling (``profile.merMod``, sec. 5.1 of the paper) the same
parameters are written as the SDs ``sqrt(diag Sigma_k)`` and the correlations of ``Sigma_k``, laid
out like theta (diagonal positions hold SDs, positions below it correlations), followed by sigma.
Names follow lme4's ``confint(..., oldNames = FALSE)``: ``sd_(Intercept)|school``,
``cor_cses.(Intercept)|school``, ``sigma``.

Going back from SDs and correlations to theta needs the Cholesky factor of ``Sigma_k``, which is
only positive semidefinite on the boundary (an SD of 0, a correlation of +-1); :func:`semichol`
is a Cholesky factorization that sets a column to zero where its pivot vanishes.
"""

from __future__ import annotations

import numpy as np


def semichol(S: np.ndarray, tol: float = 1e-12) -> np.ndarray | None:
    """Lower-triangular ``L`` with ``L L' = S`` for a symmetric positive semidefinite ``S``.

    A pivot within ``tol`` (relative to the diagonal) of zero gives a zero column; ``None`` when
    ``S`` is not positive semidefinite (a pivot clearly below zero).
    """
    q = S.shape[0]
    L = np.zeros_like(S, dtype=float)
    scale = max(float(np.max(np.abs(np.diag(S)))), 1e-300)
    for j in range(q):
        d = S[j, j] - L[j, :j] @ L[j, :j]
        if d < -tol * scale:
            return None
        if d <= tol * scale:
            for i in range(j + 1, q):  # the rest of the column must vanish too
                if abs(S[i, j] - L[i, :j] @ L[j, :j]) > 1e-7 * np.sqrt(scale * max(S[i, i], 0.0)):
                    return None
            continue
        L[j, j] = np.sqrt(d)
        for i in range(j + 1, q):
            L[i, j] = (S[i, j] - L[i, :j] @ L[j, :j]) / L[j, j]
    return L


class VarPar:
    """Map between ``(theta, sigma)`` and the SD/correlation vector of a ``LinearMixedModel``."""

    def __init__(self, model) -> None:
        self.reterms = model.reterms
        self.index = model.theta_index
        self.ntheta = model.ntheta
        names, kinds = [], []
        for r in self.reterms:
            tn = r.term.names
            for i, j in zip(r.tri_rows, r.tri_cols, strict=True):
                if i == j:
                    names.append(f"sd_{tn[i]}|{r.name}")
                    kinds.append("sd")
                else:
                    names.append(f"cor_{tn[i]}.{tn[j]}|{r.name}")
                    kinds.append("cor")
        self.names = names + ["sigma"]
        self.kinds = kinds + ["sigma"]

    def lower(self) -> np.ndarray:
        return np.array([-1.0 if k == "cor" else 0.0 for k in self.kinds])

    def upper(self) -> np.ndarray:
        return np.array([1.0 if k == "cor" else np.inf for k in self.kinds])

    def from_theta(self, theta: np.ndarray, sigma: float) -> np.ndarray:
        """SDs and correlations (0 where an SD is 0) followed by sigma."""
        out = np.empty(self.ntheta + 1)
        for r, sl in zip(self.reterms, self.index, strict=True):
            T = r.T(theta[sl])
            S = sigma * sigma * (T @ T.T)
            sd = np.sqrt(np.clip(np.diag(S), 0.0, None))
            vals = []
            for i, j in zip(r.tri_rows, r.tri_cols, strict=True):
                if i == j:
                    vals.append(sd[i])
                else:
                    den = sd[i] * sd[j]
                    vals.append(float(np.clip(S[i, j] / den, -1.0, 1.0)) if den > 0 else 0.0)
            out[sl] = vals
        out[-1] = sigma
        return out

    def to_theta(self, s: np.ndarray) -> np.ndarray | None:
        """theta for the SD/correlation vector ``s`` (last entry sigma); ``None`` when some
        term's correlations do not form a positive semidefinite matrix."""
        sigma = float(s[-1])
        theta = np.empty(self.ntheta)
        for r, sl in zip(self.reterms, self.index, strict=True):
            v = s[sl]
            q = r.q
            C = np.eye(q)
            sd = np.zeros(q)
            for val, i, j in zip(v, r.tri_rows, r.tri_cols, strict=True):
                if i == j:
                    sd[i] = val
                else:
                    C[i, j] = C[j, i] = val
            L = semichol(C * np.outer(sd, sd)) if q > 1 else np.array([[sd[0]]])
            if L is None:
                return None
            theta[sl] = L[r.tri_rows, r.tri_cols] / sigma
        return theta
