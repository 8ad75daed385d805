"""Figures for effect sizes and diagnostics (matplotlib Figures without pyplot state)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from mlmpipe.report.figures import _figure

RS_COLORS = {
    "f1": "#1b9e77",
    "f2": "#66a61e",
    "v": "#7570b3",
    "m": "#d95f02",
    "residual": "#bbbbbb",
}
RS_LABELS = {
    "f1": "fixed, within (f1)",
    "f2": "fixed, between (f2)",
    "v": "random slopes (v)",
    "m": "random intercept (m)",
    "residual": "level-1 residual",
}


def _qq(ax, x, title):
    (osm, osr), (slope, intercept, _r) = stats.probplot(np.asarray(x, float), dist="norm")
    ax.plot(osm, osr, "o", ms=2, alpha=0.6, rasterized=len(osm) > 1000)
    ax.plot(osm, slope * np.asarray(osm) + intercept, color="C3", lw=1)
    ax.set_title(title)
    ax.set_xlabel("theoretical quantiles")
    ax.set_ylabel("sample quantiles")


def residual_panels(resid: pd.DataFrame, sigma: float, title: str = ""):
    """Level-1 residuals: normal QQ, residuals vs fitted, histogram, scale-location."""
    r = resid["residual"].to_numpy() / sigma
    fitted = resid["fitted"].to_numpy()
    fig, axes = _figure(ncols=4, figsize=(16, 3.8))
    ax = axes[0]
    _qq(ax[0], r, "normal QQ (standardized)")
    ax[1].scatter(fitted, r, s=3, alpha=0.3, rasterized=True)
    ax[1].axhline(0, color="C3", lw=1)
    for z in (-3, 3):
        ax[1].axhline(z, color="grey", lw=0.6, ls="--")
    ax[1].set(title="residuals vs fitted", xlabel="fitted", ylabel="residual / sigma")
    ax[2].hist(r, bins=50, density=True, alpha=0.7)
    grid = np.linspace(r.min(), r.max(), 200)
    ax[2].plot(grid, stats.norm.pdf(grid), color="C3", lw=1)
    ax[2].set(title="histogram", xlabel="residual / sigma", ylabel="density")
    ax[3].scatter(fitted, np.sqrt(np.abs(r)), s=3, alpha=0.3, rasterized=True)
    order = np.argsort(fitted)
    k = max(len(r) // 40, 1)
    smooth = pd.Series(np.sqrt(np.abs(r))[order]).rolling(k, center=True, min_periods=1).mean()
    ax[3].plot(fitted[order], smooth.to_numpy(), color="C3", lw=1)
    ax[3].set(title="scale-location", xlabel="fitted", ylabel="sqrt(|residual / sigma|)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def standardized_modes_qq(zs: dict[str, pd.DataFrame]):
    """Normal QQ plot of the standardized conditional modes of every term of every level."""
    panels = [(f"{g}: {t}", z[t].to_numpy()) for g, z in zs.items() for t in z.columns]
    fig, axes = _figure(ncols=len(panels), figsize=(4 * len(panels), 3.6))
    for ax, (title, x) in zip(axes[0], panels, strict=True):
        _qq(ax, x, f"{title} (standardized)")
    fig.tight_layout()
    return fig


def influence_plot(table: pd.DataFrame, cutoff: float, group: str):
    """Cook's distance per cluster (index plot) with the 4/J cut-off; flagged clusters labelled."""
    fig, axes = _figure(ncols=1, figsize=(10, 3.6))
    ax = axes[0, 0]
    d = table["cooks_d"].to_numpy()
    ax.vlines(np.arange(len(d)), 0, d, lw=0.8)
    ax.axhline(cutoff, color="C3", lw=1, ls="--", label=f"4/J = {cutoff:.3g}")
    for i in np.argsort(d)[::-1][:5]:
        if d[i] > cutoff:
            ax.annotate(
                str(table["cluster"].iloc[i]), (i, d[i]), fontsize=7, ha="center", va="bottom"
            )
    ax.set(title=f"Cook's distance, leaving out one {group} at a time", xlabel=group, ylabel="D")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def cluster_sd_plot(het: dict, sizes: pd.Series | None = None):
    """Per-cluster SD of level-1 residuals (sorted), with the pooled residual SD."""
    sd = pd.Series(het["cluster_sd"]).sort_values()
    fig, axes = _figure(ncols=1, figsize=(10, 3.4))
    ax = axes[0, 0]
    ax.plot(np.arange(len(sd)), sd.to_numpy(), "o", ms=3)
    ax.axhline(float(np.sqrt(np.nanmean(sd.to_numpy() ** 2))), color="C3", lw=1)
    ax.set(
        title=f"level-1 residual SD per cluster (Brown-Forsythe p = {het['p']:.3g})",
        xlabel="clusters (sorted)",
        ylabel="residual SD",
    )
    fig.tight_layout()
    return fig


def rights_sterba_bars(es: dict):
    """Stacked bars of the Rights & Sterba (2019) shares: total, within and between, per model."""
    scopes = ("total", "within", "between")
    models = [m for m, e in es["models"].items() if e.get("rights_sterba")]
    fig, axes = _figure(ncols=3, figsize=(15, 4))
    for ax, scope in zip(axes[0], scopes, strict=True):
        bottom = np.zeros(len(models))
        for src in RS_LABELS:
            vals = np.array(
                [es["models"][m]["rights_sterba"]["r2"][scope].get(src, 0.0) for m in models]
            )
            if scope != "total" and not np.any(vals):
                continue
            ax.bar(models, vals, bottom=bottom, color=RS_COLORS[src], label=RS_LABELS[src])
            bottom += vals
        ax.set_ylim(0, 1)
        ax.set_title(f"{scope} variance")
        ax.set_ylabel("proportion")
        ax.tick_params(axis="x", rotation=30)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def interaction_plot(entry: dict):
    """Predicted outcome against the focal predictor at each moderator value (with intervals) and,
    for a continuous moderator, the simple slope against the moderator with the Johnson-Neyman
    bounds."""
    jn = entry.get("johnson_neyman")
    fig, axes = _figure(ncols=2 if jn else 1, figsize=(11 if jn else 6, 4))
    ax = axes[0, 0]
    for k, line in enumerate(entry["lines"]):
        x = np.asarray(line["x"])
        ax.plot(x, line["fit"], color=f"C{k}", label=str(line["moderator_value"]))
        ax.fill_between(x, line["low"], line["high"], color=f"C{k}", alpha=0.2)
    ax.set(
        title=f"{entry['term']}: predicted outcome",
        xlabel=entry["focal"],
        ylabel="predicted (fixed part)",
    )
    ax.legend(frameon=False, fontsize=8)
    if jn:
        ax = axes[0, 1]
        c = entry["slope_curve"]
        ax.plot(c["w"], c["slope"], color="C0")
        ax.fill_between(c["w"], c["low"], c["high"], color="C0", alpha=0.2)
        s = entry["simple_slopes"]
        w = np.array([r["w"] for r in s])
        ax.errorbar(
            w,
            [r["slope"] for r in s],
            yerr=[[r["slope"] - r["ci_low"] for r in s], [r["ci_high"] - r["slope"] for r in s]],
            fmt="o",
        )
        lo, hi = jn["observed_range"]
        ax.axvspan(lo, hi, color="grey", alpha=0.1, label="observed range")
        for b in jn["bounds"]:
            ax.axvline(b, color="C3", ls="--", lw=1)
        ax.axhline(0, color="black", lw=0.6)
        ax.set(
            title=f"slope of {entry['focal']}; J-N: significant {jn['significant']}",
            xlabel=entry["moderator"],
            ylabel="simple slope",
        )
    fig.tight_layout()
    return fig
