"""Numerical derivatives with Richardson extrapolation (the method of R's numDeriv, Gilbert & Varadhan).

Central differences at steps h, h/2, h/4, h/8 are combined so that the O(h^2), O(h^4), ... error terms
cancel, which makes Satterthwaite degrees of freedom agree with lmerTest to many digits.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def _steps(x: np.ndarray, d: float, eps: float = 1e-4, zero_tol: float = 1.78e-5) -> np.ndarray:
    return np.where(np.abs(x) < zero_tol, eps, d * np.abs(x))


def _richardson(values: list, r: int, v: float = 2.0):
    a = list(values)
    for m in range(1, r):
        c = v ** (2 * m)
        a = [(c * a[k + 1] - a[k]) / (c - 1) for k in range(len(a) - 1)]
    return a[0]


def jacobian(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, d: float = 1e-4, r: int = 4
) -> np.ndarray:
    """d f / d x for array-valued ``f``: result shape ``f(x).shape + (len(x),)``."""
    x = np.asarray(x, float)
    h0 = _steps(x, d)
    cols = []
    for i in range(x.size):
        est = []
        for k in range(r):
            h = h0[i] / 2**k
            e = np.zeros_like(x)
            e[i] = h
            est.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h))
        cols.append(_richardson(est, r))
    return np.stack(cols, axis=-1)


def hessian(f: Callable[[np.ndarray], float], x: np.ndarray, d: float = 0.1, r: int = 3):
    """Hessian of a scalar function by extrapolated second central differences."""
    x = np.asarray(x, float)
    k = x.size
    h0 = _steps(x, d)
    f0 = f(x)
    H = np.zeros((k, k))
    for i in range(k):
        est = []
        for s in range(r):
            h = h0[i] / 2**s
            e = np.zeros(k)
            e[i] = h
            est.append((f(x + e) - 2 * f0 + f(x - e)) / h**2)
        H[i, i] = _richardson(est, r)
        for j in range(i):
            est = []
            for s in range(r):
                hi, hj = h0[i] / 2**s, h0[j] / 2**s
                ei = np.zeros(k)
                ej = np.zeros(k)
                ei[i] = hi
                ej[j] = hj
                est.append(
                    (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej))
                    / (4 * hi * hj)
                )
            H[i, j] = H[j, i] = _richardson(est, r)
    return H
