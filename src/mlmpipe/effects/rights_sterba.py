"""Rights & Sterba (2019) decomposition of the model-implied outcome variance of a two-level LMM.

Rights, J. D. & Sterba, S. K. (2019). Quantifying explained variance in multilevel models: an
integrative framework for defining R-squared measures. Psychological Methods 24(3), 309-338.

Sources of variance (with the cluster index j of one grouping factor):

* ``f1`` fixed effects via level-1 (within-cluster) variation: the sample variance of the
  within-cluster part of the fixed prediction, ``x_ij' gamma - mean_j(x' gamma)``;
* ``f2`` fixed effects via level-2 (between-cluster) variation: the sample variance of the
  cluster-mean part ``mean_j(x' gamma)``;
* ``v`` random-slope variation: ``sum_ij w_ij' T w_ij / (N - 1)`` with ``w_ij`` the within-cluster
  part of the random-effect columns (``tr(T Sigma_w)`` in the paper);
* ``m`` random-intercept (cluster-mean) variation: ``mean_ij zbar_j' T zbar_j`` (``tau_00`` when the
  random-slope predictors are cluster-mean centred, as the paper assumes);
* ``sigma^2`` the level-1 residual variance.

With cluster-mean-centred level-1 predictors, f1 = gamma_w' Phi_w gamma_w and f2 = gamma_b' Phi_b
gamma_b as in the paper (sample covariances); a level-1 predictor that is not centred contributes to
both f1 and f2 through its within and between parts with the same coefficient (the paper's advice
is to centre such predictors; the report states which predictors varied at both levels).

Total variance = f1 + f2 + v + m + sigma^2; within = f1 + v + sigma^2; between = f2 + m. The shares
of each total are the R^2 measures (e.g. R^2_t^(f1) = f1 / total, R^2_w^(f1) = f1 / within,
R^2_b^(f2) = f2 / between, R^2_t^(fvm) = (f1 + f2 + v + m) / total).
"""

from __future__ import annotations

import numpy as np

from mlmpipe.effects.parts import FitParts, cluster_means
from mlmpipe.errors import EstimationError

SOURCES = ("f1", "f2", "v", "m", "residual")
WITHIN = ("f1", "v", "residual")
BETWEEN = ("f2", "m")


def decompose(parts: FitParts, group: str | None = None) -> dict[str, float]:
    """The five variance sources ``f1, f2, v, m, residual`` (see the module docstring)."""
    if len(parts.terms) != 1:
        raise EstimationError(
            "Rights & Sterba decomposition: defined for two-level models (one grouping factor); "
            f"found {', '.join(parts.terms)}"
        )
    group = group or next(iter(parts.terms))
    codes, Z, T = parts.terms[group]
    yhat = parts.X @ parts.beta
    between = cluster_means(yhat, codes)
    within = yhat - between
    Zbar = cluster_means(Z, codes)
    W = Z - Zbar
    n = parts.n
    out = {
        "f1": float(np.var(within, ddof=1)),
        "f2": float(np.var(between, ddof=1)),
        "v": float(np.einsum("ia,ab,ib->", W, T, W) / (n - 1)),
        "m": float(np.mean(np.einsum("ia,ab,ib->i", Zbar, T, Zbar))),
        "residual": parts.sigma2,
    }
    scale = sum(out.values())
    # rounding noise (e.g. f1 ~ 1e-30 for an intercept-only model) is reported as 0
    return {k: (0.0 if abs(v) < 1e-12 * scale else v) for k, v in out.items()}


def r2_measures(dec: dict[str, float]) -> dict[str, dict[str, float]]:
    """Shares of the total, within and between variance of each source (R&S's R^2 measures)."""
    total = sum(dec[k] for k in SOURCES)
    within = sum(dec[k] for k in WITHIN)
    between = sum(dec[k] for k in BETWEEN)
    out = {
        "total": {k: dec[k] / total for k in SOURCES},
        "within": {k: dec[k] / within for k in WITHIN},
        "between": {k: (dec[k] / between if between > 0 else float("nan")) for k in BETWEEN},
    }
    out["total"]["f"] = (dec["f1"] + dec["f2"]) / total
    out["total"]["fv"] = (dec["f1"] + dec["f2"] + dec["v"]) / total
    out["total"]["fvm"] = (dec["f1"] + dec["f2"] + dec["v"] + dec["m"]) / total
    return out


def rights_sterba(parts: FitParts, group: str | None = None) -> dict:
    """Decomposition plus R^2 measures: ``{"variances": {...}, "r2": {"total"|"within"|"between"}}``."""
    dec = decompose(parts, group)
    return {
        "variances": dec,
        "total": sum(dec.values()),
        "within": sum(dec[k] for k in WITHIN),
        "between": sum(dec[k] for k in BETWEEN),
        "r2": r2_measures(dec),
    }
