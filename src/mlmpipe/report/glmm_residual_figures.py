"""Figures of the level-1 residuals of GLMM and ordinal fits (the stored diagnostics'
``residual_table``; :mod:`mlmpipe.diagnostics.glmm_residuals`), and the dispatch that gives a
linear model its usual residual panels instead.

Randomized quantile residuals are compared with the standard normal, ordinal surrogate residuals
with the logistic (logit) or standard normal (probit) distribution: a Q-Q plot against that
reference, the residuals against the linear predictor ``eta`` and against each fixed-effect
column, with a running median and the reference's 2.5% and 97.5% quantiles. Under the model the
points scatter evenly around 0 between those lines at every ``eta`` and predictor value; a curved
running median points to a missing term or a wrong link (Liu & Zhang 2018, JASA 113:845-854;
Dunn & Smyth 1996, J. Comput. Graph. Stat. 5:236-244).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from mlmpipe.record import FitRecord
from mlmpipe.report.diagnostic_figures import residual_panels

_REFERENCE = {"normal": stats.norm, "logistic": stats.logistic}
_TABLE_META = ("row", "eta", "residual", "z")


def _running_median(x: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(x, kind="stable")
    k = max(len(x) // 20, 25)
    med = pd.Series(r[order]).rolling(k, center=True, min_periods=1).median().to_numpy()
    return x[order], med


def _versus(ax, x: np.ndarray, r: np.ndarray, dist, xlabel: str) -> None:
    ax.scatter(x, r, s=3, alpha=0.25, rasterized=len(x) > 1000)
    if np.unique(x).size > 2:
        xs, med = _running_median(x, r)
        ax.plot(xs, med, color="C3", lw=1.2)
    else:  # a dummy column: the median in each group
        for v in np.unique(x):
            ax.plot([v - 0.2, v + 0.2], [np.median(r[x == v])] * 2, color="C3", lw=2)
    ax.axhline(0, color="black", lw=0.6)
    for q in (0.025, 0.975):
        ax.axhline(dist.ppf(q), color="grey", lw=0.6, ls="--")
    ax.set(xlabel=xlabel, ylabel="residual")


def glmm_residual_panels(diag: dict):
    """Q-Q against the reference, residuals vs ``eta``, histogram with the reference density,
    and residuals vs each fixed-effect column of the model."""
    t = diag["residual_table"]
    r = np.asarray(t["residual"], float)
    ref = diag["reference"]
    dist = _REFERENCE[ref]
    preds = [c for c in t if c not in _TABLE_META]
    ncols = 3
    nrows = 1 + int(np.ceil(len(preds) / ncols))
    from matplotlib.figure import Figure  # heavy (matplotlib): figures only

    fig = Figure(figsize=(13, 3.8 * nrows))
    axes = fig.subplots(nrows=nrows, ncols=ncols, squeeze=False)
    ax = axes[0]
    (osm, osr), _fit = stats.probplot(r, dist=dist)
    ax[0].plot(osm, osr, "o", ms=2, alpha=0.6, rasterized=len(osm) > 1000)
    ax[0].plot(osm, osm, color="C3", lw=1)  # the identity: the reference itself, not a fitted line
    ax[0].set(title=f"Q-Q vs standard {ref}", xlabel="theoretical quantiles", ylabel="residual")
    _versus(ax[1], np.asarray(t["eta"], float), r, dist, "linear predictor eta")
    ax[1].set_title("residuals vs linear predictor")
    grid = np.linspace(min(r.min(), dist.ppf(0.001)), max(r.max(), dist.ppf(0.999)), 200)
    ax[2].hist(r, bins=50, density=True, alpha=0.7)
    ax[2].plot(grid, dist.pdf(grid), color="C3", lw=1)
    ax[2].set(title="histogram", xlabel="residual", ylabel="density")
    flat = axes[1:].ravel() if nrows > 1 else []
    for a, name in zip(flat, preds, strict=False):
        _versus(a, np.asarray(t[name], float), r, dist, name)
        a.set_title(f"residuals vs {name}")
    for a in list(flat)[len(preds) :]:
        a.set_visible(False)
    fig.suptitle(
        f"{diag['model']} ({diag['family']}, {diag['link']}), level-1 residuals: {diag['residual']}"
    )
    fig.tight_layout()
    return fig


def level1_residual_figure(rec: FitRecord, resid: pd.DataFrame, diag: dict):
    """The level-1 residual figure a fit calls for: GLMM/ordinal panels from the diagnostics, or
    the linear model's QQ / fitted / histogram / scale-location panels."""
    if "residual_table" in diag:
        return glmm_residual_panels(diag)
    return residual_panels(resid, rec.sigma)


def level1_qq_residuals(resid: pd.DataFrame, diag: dict) -> np.ndarray:
    """Residuals for a normal Q-Q plot: ``y - fitted`` of a linear model, the normal scores of the
    quantile or surrogate residuals of a GLMM (normal under the model for every family)."""
    if "residual_table" in diag:
        return np.asarray(diag["residual_table"]["z"], float)
    return resid["residual"].to_numpy(float)
