"""Little's (1988) test of missing completely at random.

The means and covariance matrix of the variables are estimated by maximum likelihood under a
multivariate normal model with the EM algorithm (Dempster, Laird & Rubin 1977; Little & Rubin 2019,
ch. 11). With missingness patterns ``j = 1..J``, ``n_j`` rows, observed variables ``o_j`` and
pattern means ``ybar_j``:

    d^2 = sum_j n_j (ybar_j - mu_oj)' Sigma_oj^{-1} (ybar_j - mu_oj),   df = sum_j |o_j| - p,

referred to chi-square(df). Under MCAR the pattern means differ only by chance. The rows are
treated as independent: with clustered data the test is approximate (clusters make rows
correlated, so it rejects somewhat too often); a small p value is evidence against MCAR, a large
one is not evidence for MAR versus MNAR.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def em_mvnorm(
    x: np.ndarray, max_iter: int = 1000, tol: float = 1e-10
) -> tuple[np.ndarray, np.ndarray, int]:
    """ML mean and covariance of an (n, p) array with NaNs by EM; returns (mu, sigma, iterations)."""
    n, p = x.shape
    obs = ~np.isnan(x)
    mu = np.nanmean(x, axis=0)
    sigma = np.diag(np.nanvar(x, axis=0))
    patterns, inverse = np.unique(obs, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).ravel()
    groups = [np.flatnonzero(inverse == k) for k in range(len(patterns))]
    for it in range(1, max_iter + 1):  # noqa: B007 (returned)
        t1 = np.zeros(p)
        t2 = np.zeros((p, p))
        for pat, rows in zip(patterns, groups, strict=True):
            o, m = pat, ~pat
            xo = x[np.ix_(rows, o)]
            xhat = np.empty((len(rows), p))
            xhat[:, o] = xo
            c = np.zeros((p, p))
            if m.any():
                if o.any():
                    coef = np.linalg.solve(sigma[np.ix_(o, o)], sigma[np.ix_(o, m)])
                    xhat[:, m] = mu[m] + (xo - mu[o]) @ coef
                    c[np.ix_(m, m)] = sigma[np.ix_(m, m)] - sigma[np.ix_(m, o)] @ coef
                else:
                    xhat[:, m] = mu[m]
                    c[np.ix_(m, m)] = sigma[np.ix_(m, m)]
            t1 += xhat.sum(axis=0)
            t2 += xhat.T @ xhat + len(rows) * c
        mu_new = t1 / n
        sigma_new = t2 / n - np.outer(mu_new, mu_new)
        done = max(np.abs(mu_new - mu).max(), np.abs(sigma_new - sigma).max()) < tol
        mu, sigma = mu_new, sigma_new
        if done:
            break
    return mu, sigma, it


def little_mcar_test(df: pd.DataFrame) -> dict:
    """Little's MCAR test on the numeric columns of ``df`` (categoricals as their codes)."""
    cols = list(df.columns)
    x = np.column_stack(
        [
            np.where(df[c].cat.codes < 0, np.nan, df[c].cat.codes).astype(float)
            if isinstance(df[c].dtype, pd.CategoricalDtype)
            else pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float)
            for c in cols
        ]
    )
    keep = ~np.isnan(x).all(axis=1)
    x = x[keep]
    # a variable with no observed variation has a singular covariance matrix and says nothing
    # about the patterns' means: left out (and named), as is a test with nothing left to compare
    varies = np.array(
        [
            np.nanstd(x[:, j]) > 0 if (~np.isnan(x[:, j])).sum() > 1 else False
            for j in range(x.shape[1])
        ],
        dtype=bool,
    )
    dropped = [c for c, v in zip(cols, varies, strict=True) if not v]
    cols = [c for c, v in zip(cols, varies, strict=True) if v]
    x = x[:, varies]
    x = x[~np.isnan(x).all(axis=1)] if x.size else x
    note = "rows treated as independent (approximate with clustered data)"
    if dropped:
        note += f"; left out (constant or observed once): {', '.join(map(str, dropped))}"
    n, p = x.shape
    if p == 0 or n < 2:
        return _not_computed(cols, dropped, n, "no variable varies")
    try:
        return _little(x, cols, note)
    except np.linalg.LinAlgError:
        return _not_computed(
            cols, dropped, n, "the covariance matrix of the variables is singular (collinear)"
        )


def _not_computed(cols: list, dropped: list, n: int, why: str) -> dict:
    return {
        "statistic": None,
        "df": None,
        "p": None,
        "patterns": None,
        "rows": int(n),
        "variables": cols,
        "left_out": dropped,
        "em_iterations": 0,
        "note": f"not computed: {why}",
    }


def _little(x: np.ndarray, cols: list, note: str) -> dict:
    n, p = x.shape
    mu, sigma, iters = em_mvnorm(x)
    obs = ~np.isnan(x)
    patterns, inverse = np.unique(obs, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).ravel()
    d2 = 0.0
    df_sum = 0
    for k, pat in enumerate(patterns):
        rows = inverse == k
        o = pat
        diff = x[np.ix_(rows, o)].mean(axis=0) - mu[o]
        d2 += rows.sum() * float(diff @ np.linalg.solve(sigma[np.ix_(o, o)], diff))
        df_sum += int(o.sum())
    dof = df_sum - p
    return {
        "statistic": d2,
        "df": int(dof),
        "p": float(stats.chi2.sf(d2, dof)) if dof > 0 else float("nan"),
        "patterns": int(len(patterns)),
        "rows": int(n),
        "variables": cols,
        "em_iterations": int(iters),
        "note": note,
    }
