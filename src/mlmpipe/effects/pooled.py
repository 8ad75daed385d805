"""Effect sizes under multiple imputation: computed on every imputed data set, then pooled.

Effect sizes of a sequence (:func:`mlmpipe.effects.summary.effect_sizes`) depend on the data as
well as on the fits (R^2 measures use the variance of the fixed part in the data, standardized
coefficients the SDs of the predictors), so under multiple imputation they are computed on each
imputed data set with that data set's own fits, and combined:

* point estimates without a standard error (ICCs, R^2 measures, PRV, Rights & Sterba shares,
  standardized coefficients, design effects) are averaged over the imputations, the point
  estimate of Rubin's rules (Rubin 1987, eq. 3.1.2). For R^2, Harel (2009, J. Appl. Stat. 36(10))
  averages on the Fisher-z scale of R; the plain average is used here;
* the ICC of the null model with its profile-likelihood interval is pooled by Rubin's rules on
  the logit scale, where its sampling distribution is closer to normal (van Buuren 2018, Flexible
  Imputation of Missing Data, sec. 5.2.2: transform before pooling): each imputation's standard
  error is read off its interval, ``(logit(high) - logit(low)) / (2 z)`` (the upper half-width
  when the lower limit is 0), and the pooled interval uses the Barnard-Rubin t reference
  (:func:`mlmpipe.missing.rubin.pool_scalar`) and is transformed back.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from mlmpipe.effects.summary import effect_sizes
from mlmpipe.missing.rubin import pool_scalar
from mlmpipe.record import FitRecord


def _average(values: list):
    """Element-wise mean of equally shaped JSON values; non-numbers from the first imputation."""
    first = values[0]
    if isinstance(first, dict):
        return {k: _average([v.get(k) for v in values]) for k in first}
    if isinstance(first, list) and all(
        isinstance(v, list) and len(v) == len(first) for v in values
    ):
        return [_average([v[i] for v in values]) for i in range(len(first))]
    nums = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if nums and len(nums) == len(values):
        return float(np.mean(nums))
    if nums and all(v is None for v in values if v not in nums):  # None in some imputations
        return float(np.mean(nums))
    return first


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def pool_icc_ci(cis: list[dict], level: float) -> dict:
    """Rubin's rules on logit(ICC) with SEs from each imputation's interval (see module doc)."""
    ok = [c for c in cis if all(k in c for k in ("icc", "low", "high")) and 0 < c["icc"] < 1]
    if len(ok) < 2:
        return {"note": "no pooled ICC interval: fewer than 2 imputations have one"} | (
            {"icc": float(np.mean([c["icc"] for c in ok]))} if ok else {}
        )
    z = stats.norm.ppf(0.5 + level / 2.0)
    q, u = [], []
    for c in ok:
        est = _logit(c["icc"])
        if c["low"] > 0:
            se = (_logit(c["high"]) - _logit(c["low"])) / (2.0 * z)
        else:
            se = (_logit(c["high"]) - est) / z
        q.append(est)
        u.append(se * se)
    p = pool_scalar(np.array(q)[:, None], np.array(u)[:, None], np.inf, 1.0 - level)

    def expit(x: float) -> float:
        return 1.0 / (1.0 + math.exp(-x))

    return {
        "icc": expit(float(p["estimate"][0])),
        "low": expit(float(p["ci_low"][0])),
        "high": expit(float(p["ci_high"][0])),
        "level": level,
        "df": float(p["df"][0]),
        "fmi": float(p["fmi"][0]),
        "m": len(ok),
        "method": "profile-likelihood interval of each imputation, pooled by Rubin's rules on the "
        "logit scale (SE from each interval's width), Barnard-Rubin df",
    }


def pooled_effect_sizes(
    models: list[str],
    fits: dict[str, list[FitRecord]],
    datasets: list[pd.DataFrame],
    level: float = 0.95,
) -> dict:
    """Effect sizes of the sequence on each imputed data set (``fits[model][k]`` fitted to
    ``datasets[k]``), pooled; the same layout as :func:`effect_sizes` plus ``pooling``."""
    m = len(datasets)
    bad = [name for name in models if len(fits[name]) != m]
    if bad:
        raise ValueError(
            f"effects: models {', '.join(bad)} do not have one fit per imputed data set ({m})"
        )
    per = [
        effect_sizes(models, {n: fits[n][k] for n in models}, datasets[k], level) for k in range(m)
    ]
    out = _average(per)
    out["icc_ci"] = pool_icc_ci([e["icc_ci"] for e in per], level)
    out["pooling"] = {
        "method": "per imputation, then averaged (ICC interval: Rubin on the logit scale)",
        "m": m,
    }
    return out
