"""Profile-likelihood confidence interval of the intraclass correlation of a random-intercept model.

In ``y = X beta + b_j + e`` with one grouping factor, the relative covariance factor is the scalar
``theta = tau / sigma``, and the ICC ``tau^2 / (tau^2 + sigma^2) = theta^2 / (1 + theta^2)`` is a
monotone function of theta alone. The engine's objective is the (RE)ML deviance profiled over beta
and sigma, so the profile-likelihood interval of theta is

    {theta >= 0 : d(theta) - d(theta_hat) <= chi^2_1(level)}

(Venzon & Moolgavkar 1988; Bates et al. 2015, sec. 5.1 for lme4's profiles), and by invariance of
likelihood intervals under monotone maps the ICC interval is its image. The lower limit is 0 when
the deviance at theta = 0 is within the bound.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize, stats

from mlmpipe.errors import EstimationError
from mlmpipe.record import FitRecord
from mlmpipe.record.restore import restore


def icc_profile_ci(rec: FitRecord, data: pd.DataFrame, level: float = 0.95) -> dict[str, float]:
    """``{"icc", "low", "high", "theta", "theta_low", "theta_high", "level", "method"}``; the
    deviance is that of ``rec`` restored on ``data``, the data it was fitted to (no refit)."""
    if rec.theta is None or len(rec.theta) != 1:
        raise EstimationError(
            f"{rec.label}: the profile ICC interval needs a model with a single random intercept"
        )
    model = restore(rec, data).model
    theta = float(rec.theta[0])
    d0 = model.objective(np.array([theta]))
    bound = stats.chi2.ppf(level, 1)

    def excess(t: float) -> float:
        return model.objective(np.array([t])) - d0 - bound

    if excess(0.0) <= 0:
        lo = 0.0
    else:
        lo = optimize.brentq(excess, 0.0, theta, xtol=1e-12, rtol=1e-12)
    hi_bracket = max(2.0 * theta, 1e-3)
    while excess(hi_bracket) < 0:
        hi_bracket *= 2.0
    hi = optimize.brentq(excess, theta, hi_bracket, xtol=1e-12, rtol=1e-12)

    def to_icc(t: float) -> float:
        return t * t / (1.0 + t * t)

    return {
        "icc": to_icc(theta),
        "low": to_icc(lo),
        "high": to_icc(hi),
        "theta": theta,
        "theta_low": lo,
        "theta_high": hi,
        "level": level,
        "method": "profile likelihood of theta = tau/sigma ("
        + ("REML" if rec.reml else "ML")
        + ")",
    }
