"""GLMM predictions under multiple imputation: one refit per completed data set, pooled by Rubin's
rules on the scale of the intervals, then back-transformed.

Every prediction carries ``link_fit`` and ``link_se`` (``effects/predictions.py``): the linear
predictor for a typical or named cluster, ``g(mu_PA)`` for a population average (``g`` the logit,
log, probit or cloglog link), and the logit of each category probability for ordinal models. These
scales are where the sampling distribution is close to normal and where the single-data-set
intervals are formed, so pooling there keeps the pooled interval inside the response's support
(Rubin 1987, sec. 3.1; van Buuren 2018, *Flexible Imputation of Missing Data*, sec. 5.2 on
transforming before pooling). Per row, with ``q_i`` = ``link_fit`` and ``u_i`` = ``link_se^2`` of
imputation ``i`` (``mlmpipe.missing.rubin.pool_scalar``): ``qbar``, ``W = mean(u)``,
``B = var(q)``, ``T = W + (1 + 1/m) B``; the interval ``qbar +- t_{nu} sqrt(T)`` with the
Barnard-Rubin df (complete-data df infinite: Wald z inferences), then ``fit``, ``low``, ``high``
by the inverse link. Ordinal category probabilities pooled this way (each on its own logit) need
not sum to exactly 1 across categories; their deviation is of the order of the between-imputation
variance and is reported as ``sum_deviation``.

The covariate grid, the named clusters and the curves come from the first completed data set, so
every imputation predicts the same rows; the named clusters' modes are those of each imputation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from mlmpipe.effects.glmm_predictions import (
    glmm_predictions,
    make_layout,
    method_text,
    predict_layout,
    refit,
    result_dict,
)
from mlmpipe.missing.rubin import pool_scalar
from mlmpipe.record import FitRecord, ModelFamily

POOLED = ("eta", "se_eta", "link_fit", "link_se", "fit", "low", "high", "sd_random")
POOLING = (
    " Pooled over {m} imputations by Rubin's rules on the interval's scale (linear predictor, "
    "link of the population-averaged mean{ordinal}) with Barnard-Rubin degrees of freedom; "
    "intervals include the between-imputation variance."
)


def pool_predictions(tables: list[pd.DataFrame], inverse, alpha: float = 0.05) -> pd.DataFrame:
    """Pool per-imputation prediction tables (same rows in the same order) by Rubin's rules on
    ``link_fit`` / ``link_se``; ``inverse`` maps that scale back to the response. Adds ``within``
    (W), ``between`` (B), ``total`` (T), ``df``, ``fmi`` and ``m``; ``eta`` and ``sd_random`` are
    averaged over imputations."""
    if len(tables) < 2:
        raise ValueError(f"pooling predictions needs at least 2 imputations, got {len(tables)}")
    keys = [c for c in tables[0].columns if c not in POOLED]
    for i, t in enumerate(tables[1:], start=2):
        if len(t) != len(tables[0]) or not t[keys].equals(tables[0][keys]):
            raise ValueError(f"pooling predictions: imputation {i} predicted different rows")
    q = np.array([t["link_fit"].to_numpy(float) for t in tables])
    u = np.array([t["link_se"].to_numpy(float) ** 2 for t in tables])
    r = pool_scalar(q, u, np.inf, alpha)
    out = tables[0][keys].copy()
    out["eta"] = np.mean([t["eta"].to_numpy(float) for t in tables], axis=0)
    out["sd_random"] = np.mean([t["sd_random"].to_numpy(float) for t in tables], axis=0)
    out["link_fit"], out["link_se"] = r["estimate"], r["se"]
    out["fit"] = inverse(r["estimate"])
    lo, hi = inverse(r["ci_low"]), inverse(r["ci_high"])
    out["low"], out["high"] = np.minimum(lo, hi), np.maximum(lo, hi)
    out["within"], out["between"], out["total"] = r["ubar"], r["b"], r["t"]
    out["df"], out["fmi"] = r["df"], r["fmi"]
    out["m"] = len(tables)
    return out


def _inverse(family: ModelFamily):
    """Back from the pooling scale: the inverse link, or expit for ordinal category probabilities
    (pooled on their logits)."""
    return special.expit if family.is_ordinal else family.inverse_link


def _sum_deviation(table: pd.DataFrame, keys: list[str]) -> float:
    sums = table.groupby([*keys, "kind", "cluster"], dropna=False, observed=True)["fit"].sum()
    return float(np.max(np.abs(sums - 1.0))) if len(sums) else 0.0


def glmm_predictions_mi(rec: FitRecord, datas: list[pd.DataFrame], spec: dict) -> dict:
    """Predictions of ``effects/glmm_predictions.glmm_predictions`` with the model of ``rec`` fitted
    to each completed data set of ``datas``, pooled (see the module docstring); the result adds
    ``imputations`` (m), per-row ``within``/``between``/``total``/``df``/``fmi``, and
    ``sum_deviation`` for ordinal."""
    alpha = spec["alpha"]
    fits = [refit(rec, d) for d in datas]
    res0, used0 = fits[0]
    lay = make_layout(res0, used0, spec["predictions"])
    tables, curves = [], []
    for res, used in fits:
        t, c = predict_layout(res, used, lay, alpha)
        tables.append(t)
        curves.append(c)
    inv = _inverse(rec.family)
    table = pool_predictions(tables, inv, alpha)
    pooled_curves = None if curves[0] is None else pool_predictions(curves, inv, alpha)
    ordinal = rec.family.is_ordinal
    method = method_text([r for r, _ in fits], alpha) + POOLING.format(
        m=len(datas), ordinal=", logit of each category probability" if ordinal else ""
    )
    out = result_dict(rec, res0, lay, spec, table, pooled_curves, method)
    out["imputations"] = len(datas)
    if ordinal:
        out["sum_deviation"] = _sum_deviation(table, lay.variables)
    return out


def predictions_any(rec: FitRecord, datas: list[pd.DataFrame], spec: dict) -> dict:
    """One data set: ``glmm_predictions``; several (multiple imputation): pooled predictions."""
    if len(datas) == 1:
        return glmm_predictions(rec, datas[0], spec)
    return glmm_predictions_mi(rec, datas, spec)
