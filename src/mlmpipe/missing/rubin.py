"""Rubin's rules for combining estimates across multiply imputed data sets.

For a scalar parameter with estimates ``q_1..q_m`` and squared standard errors ``u_1..u_m``
(Rubin 1987, ch. 3):

* ``qbar = mean(q)``, within variance ``ubar = mean(u)``, between variance ``b = var(q)`` (n - 1),
  total variance ``t = ubar + (1 + 1/m) b``;
* relative increase in variance ``riv = (1 + 1/m) b / ubar``, ``lambda = (1 + 1/m) b / t``;
* degrees of freedom by Barnard & Rubin (1999): ``nu_old = (m - 1) / lambda^2``,
  ``nu_obs = (nu_com + 1) / (nu_com + 3) * nu_com * (1 - lambda)``,
  ``nu = nu_old nu_obs / (nu_old + nu_obs)`` (``nu_old`` when the complete-data df is infinite);
  as in mice, ``lambda`` is floored at 1e-4 so that ``nu`` stays finite when ``b = 0``;
* fraction of missing information ``fmi = (riv + 2 / (nu + 3)) / (riv + 1)`` (Rubin 1987, eq. 3.1.10).

Likelihood-ratio tests are combined with D2 (Li, Meng, Raghunathan & Rubin 1991), which needs only
the ``m`` chi-square statistics: ``r2 = (1 + 1/m) var(sqrt(d_i))``,
``D2 = (mean(d)/k - (m + 1)/(m - 1) r2) / (1 + r2)``, referred to ``F(k, nu2)`` with
``nu2 = k^(-3/m) (m - 1) (1 + 1/r2)^2``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def barnard_rubin_df(m: int, b: np.ndarray, t: np.ndarray, dfcom: np.ndarray | float) -> np.ndarray:
    """Barnard & Rubin (1999) small-sample degrees of freedom (vectorised)."""
    b, t = np.asarray(b, float), np.asarray(t, float)
    dfcom = np.broadcast_to(np.asarray(dfcom, float), b.shape)
    lam = np.maximum((1.0 + 1.0 / m) * b / t, 1e-4)
    dfold = (m - 1) / lam**2
    with np.errstate(invalid="ignore"):
        dfobs = (dfcom + 1.0) / (dfcom + 3.0) * dfcom * (1.0 - lam)
        df = np.where(np.isinf(dfcom), dfold, dfold * dfobs / (dfold + dfobs))
    return df


def pool_scalar(
    q: np.ndarray, u: np.ndarray, dfcom: np.ndarray | float = np.inf, alpha: float = 0.05
) -> dict[str, np.ndarray]:
    """Pool ``m`` estimates ``q`` (m x p) with squared standard errors ``u`` (m x p).

    Returns arrays of length p: estimate, se, ubar, b, t, riv, lambda, df, fmi, statistic (t
    against 0), p value, and the ``1 - alpha`` confidence interval from the t(df) reference.
    """
    q = np.atleast_2d(np.asarray(q, float).T).T
    u = np.atleast_2d(np.asarray(u, float).T).T
    m = q.shape[0]
    if m < 2:
        raise ValueError(f"pooling needs at least 2 imputations, got {m}")
    if u.shape != q.shape:
        raise ValueError(f"estimates {q.shape} and variances {u.shape} differ in shape")
    qbar = q.mean(axis=0)
    ubar = u.mean(axis=0)
    b = q.var(axis=0, ddof=1)
    t = ubar + (1.0 + 1.0 / m) * b
    riv = (1.0 + 1.0 / m) * b / ubar
    lam = (1.0 + 1.0 / m) * b / t
    df = barnard_rubin_df(m, b, t, dfcom)
    fmi = (riv + 2.0 / (df + 3.0)) / (riv + 1.0)
    se = np.sqrt(t)
    stat = qbar / se
    crit = stats.t.ppf(1.0 - alpha / 2.0, df)
    return {
        "estimate": qbar,
        "se": se,
        "ubar": ubar,
        "b": b,
        "t": t,
        "riv": riv,
        "lambda": lam,
        "df": df,
        "fmi": fmi,
        "statistic": stat,
        "p": 2.0 * stats.t.sf(np.abs(stat), df),
        "ci_low": qbar - crit * se,
        "ci_high": qbar + crit * se,
    }


def pool_point(values: np.ndarray, scale: str = "identity") -> dict[str, float]:
    """Pool a parameter without a standard error by averaging on a transformed scale.

    ``scale``: ``log`` (standard deviations: averaged as log SD, Rubin 1987 recommends a scale on
    which the estimate is closer to normal), ``fisher_z`` (correlations: ``atanh``), ``logit``
    (proportions such as the ICC) or ``identity``. Returns the back-transformed mean and the
    between-imputation variance on the transformed scale.
    """
    v = np.asarray(values, float)
    fwd, back = _SCALES[scale]
    with np.errstate(divide="ignore"):
        z = fwd(v)
    finite = np.isfinite(z)
    if not finite.all():  # a boundary estimate (SD 0, correlation +-1) in some imputation
        zbar = float(np.mean(z[finite])) if finite.any() else float(fwd(np.mean(v)))
        between = float(np.var(z[finite], ddof=1)) if finite.sum() > 1 else float("nan")
        return {
            "estimate": float(back(zbar)) if finite.any() else float(np.mean(v)),
            "between": between,
            "scale": scale,
            "boundary_imputations": int((~finite).sum()),
        }
    return {
        "estimate": float(back(z.mean())),
        "between": float(z.var(ddof=1)) if len(z) > 1 else 0.0,
        "scale": scale,
        "boundary_imputations": 0,
    }


def _logit(p):
    return np.log(p) - np.log1p(-p)


_SCALES = {
    "identity": (lambda x: x, lambda z: z),
    "log": (np.log, np.exp),
    "fisher_z": (np.arctanh, np.tanh),
    "logit": (_logit, lambda z: 1.0 / (1.0 + np.exp(-z))),
}


def pool_d2(chisq: np.ndarray, k: int) -> dict[str, float]:
    """Combine ``m`` chi-square statistics on ``k`` df with D2 (Li, Meng, Raghunathan & Rubin 1991).

    Negative statistics (possible when a likelihood ratio is computed from separately optimised
    fits) are truncated at 0 before pooling.
    """
    d = np.maximum(np.asarray(chisq, float), 0.0)
    m = len(d)
    if m < 2:
        raise ValueError(f"D2 needs at least 2 imputations, got {m}")
    if k < 1:
        raise ValueError(f"D2 needs k >= 1 degrees of freedom, got {k}")
    r2 = (1.0 + 1.0 / m) * np.var(np.sqrt(d), ddof=1)
    stat = (d.mean() / k - (m + 1.0) / (m - 1.0) * r2) / (1.0 + r2)
    stat = max(stat, 0.0)
    df2 = np.inf if r2 == 0 else k ** (-3.0 / m) * (m - 1.0) * (1.0 + 1.0 / r2) ** 2
    p = float(stats.f.sf(stat, k, df2)) if np.isfinite(df2) else float(stats.chi2.sf(stat * k, k))
    return {"statistic": float(stat), "df1": int(k), "df2": float(df2), "riv": float(r2), "p": p}
