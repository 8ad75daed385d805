"""Report figures as matplotlib Figure objects (callers decide whether to show or save)."""

from __future__ import annotations

import io

import numpy as np
from scipy import stats

from mlmpipe.record import FitRecord


def _figure(ncols=1, figsize=None, squeeze=False):
    """A Figure without pyplot state (no backend or display needed)."""
    from matplotlib.figure import Figure  # heavy (matplotlib): figures only

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(ncols=ncols, squeeze=squeeze)


def to_png(fig, dpi: int = 110) -> bytes:
    """PNG bytes of a figure (to embed in the report or write under reports/figures/)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def caterpillar(rec: FitRecord, group: str | None = None, z: float = 1.96):
    """Conditional modes of each random effect of ``group`` with ``+- z * condsd`` intervals."""
    group = group or next(iter(rec.ranef))
    re = rec.ranef[group]
    vals = np.asarray(re.values, dtype=float)
    sds = np.asarray(re.condsd, dtype=float)
    k = vals.shape[1]
    fig, axes = _figure(ncols=k, figsize=(4 * k, 0.035 * vals.shape[0] + 2), squeeze=False)
    for j in range(k):
        ax = axes[0, j]
        order = np.argsort(vals[:, j])
        y = np.arange(len(order))
        ax.errorbar(vals[order, j], y, xerr=z * sds[order, j], fmt="o", ms=2, lw=0.6, color="C0")
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_yticks([])
        ax.set_title(f"{group}: {re.terms[j]}")
        ax.set_xlabel(f"conditional mode ± {z}·SD")
    axes[0, 0].set_ylabel(f"{len(vals)} {group} units (sorted)")
    fig.tight_layout()
    return fig


def qq_plots(rec: FitRecord, residuals, group: str | None = None):
    """Normal QQ plots: level-1 residuals and the level-2 conditional modes of each term."""
    group = group or next(iter(rec.ranef))
    re = rec.ranef[group]
    vals = np.asarray(re.values, dtype=float)
    panels = [("level-1 residuals", np.asarray(residuals, dtype=float))]
    panels += [(f"{group}: {t}", vals[:, j]) for j, t in enumerate(re.terms)]
    fig, axes = _figure(ncols=len(panels), figsize=(4 * len(panels), 3.6), squeeze=False)
    for ax, (title, x) in zip(axes[0], panels, strict=True):
        (osm, osr), (slope, intercept, _r) = stats.probplot(x, dist="norm")
        ax.plot(osm, osr, "o", ms=2, alpha=0.6)
        ax.plot(osm, slope * np.asarray(osm) + intercept, color="C3", lw=1)
        ax.set_title(title)
        ax.set_xlabel("theoretical quantiles")
        ax.set_ylabel("sample quantiles")
    fig.tight_layout()
    return fig
