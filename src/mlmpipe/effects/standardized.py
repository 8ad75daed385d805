"""Standardized fixed effects and the design effect of clustering.

Standardized coefficients, two versions:

* ``basic``: beta * SD(x) / SD(y) over all rows (as R's ``parameters::standardize_parameters``
  with ``method = "basic"``);
* ``pseudo`` (Hoffman 2015, *Longitudinal Analysis*, ch. 2; Snijders & Bosker 2012, sec. 7.1), as
  R's ``parameters::standardize_parameters(method = "pseudo")`` defines it: a model-matrix column
  that varies within clusters (level 1, e.g. a group-centred ``cses``, a level-1 dummy, or an
  interaction with one) is scaled by its SD over all rows and the null model's level-1 SD
  ``sigma_0``; a column constant within clusters (level 2, e.g. ``meanses``) by the SD of its
  cluster values (one per cluster) and the null model's between-cluster SD ``tau_0``. For a
  group-centred predictor the SD over all rows is its within-cluster SD, and each coefficient reads
  as SDs of the outcome at the predictor's level per SD of the predictor at that level; a level-1
  column that is not centred keeps its between-cluster variation in that SD (``parameters`` warns
  about this "heterogeneity bias"; centre such predictors in the plan). Matches ``parameters``
  0.20.2 to 1e-6 on HSB (tests/fixtures/effects/make_standardized_fixtures.R).

Design effect (Kish 1965; Snijders & Bosker 2012, eq. 3.17): ``deff = 1 + (nbar - 1) ICC`` with
``nbar`` the mean cluster size, and effective sample size ``N / deff``.
"""

from __future__ import annotations

import numpy as np

from mlmpipe.effects.parts import FitParts, cluster_sizes, level_of_columns


def _cluster_values(x: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """One value per cluster of a column constant within clusters."""
    k = int(codes.max()) + 1
    out = np.full(k, np.nan)
    out[codes] = x
    return out[~np.isnan(out)]


def standardized_coefficients(
    parts: FitParts, null_sigma2: float, null_tau2: float, group: str
) -> list[dict]:
    """One row per non-intercept coefficient: level, SDs used, basic and pseudo standardized."""
    codes = parts.terms[group][0]
    levels = level_of_columns(parts.X, codes)
    sd_y = float(np.std(parts.y, ddof=1))
    rows = []
    for j, name in enumerate(parts.names):
        x = parts.X[:, j]
        if np.all(x == x[0]):
            continue
        b = float(parts.beta[j])
        sd_x = float(np.std(x, ddof=1))
        if levels[j] == "within":
            sd_level = sd_x
            sd_out = float(np.sqrt(null_sigma2))
        else:
            sd_level = float(np.std(_cluster_values(x, codes), ddof=1))
            sd_out = float(np.sqrt(null_tau2))
        rows.append(
            {
                "term": name,
                "level": levels[j],
                "estimate": b,
                "sd_x": sd_x,
                "sd_x_level": sd_level,
                "sd_y_level": sd_out,
                "beta_basic": b * sd_x / sd_y,
                "beta_pseudo": b * sd_level / sd_out if sd_out > 0 else float("nan"),
            }
        )
    return rows


def design_effect(icc: float, codes: np.ndarray) -> dict[str, float]:
    """``deff = 1 + (nbar - 1) * icc`` and the effective sample size ``N / deff``."""
    sizes = cluster_sizes(codes)
    nbar = float(sizes.mean())
    deff = 1.0 + (nbar - 1.0) * icc
    n = float(sizes.sum())
    return {
        "mean_cluster_size": nbar,
        "icc": icc,
        "design_effect": deff,
        "n": n,
        "n_effective": n / deff,
    }
