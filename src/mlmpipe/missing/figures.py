"""Missing-data figures as pyplot-free matplotlib Figures: missingness patterns, convergence
traces of the imputation chains, and the delta-adjustment tipping-point plot."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _figure(nrows=1, ncols=1, figsize=None):
    from matplotlib.figure import Figure  # heavy (matplotlib): figures only

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows=nrows, ncols=ncols, squeeze=False)


def pattern_figure(report: dict):
    """Missingness patterns (rows of the missing report's pattern table): one row per pattern,
    dark cells missing, bar length the number of rows with that pattern (as mice::md.pattern)."""
    pats = report["patterns"]
    cols = report["variables_order"]
    grid = np.array([[c == "M" for c in p["pattern"]] for p in pats], dtype=float)
    counts = [p["rows"] for p in pats]
    longest = max((len(str(c)) for c in cols), default=1)
    # room for the rotated variable names below the grid and one row height per pattern
    width = max(6.5, 2.8 + 0.45 * len(cols))
    height = max(3.0, 1.4 + 0.32 * len(pats) + 0.09 * longest)
    fig, axes = _figure(ncols=2, figsize=(width, height))
    fig.set_layout_engine("constrained")
    ax, bx = axes[0]
    ax.imshow(grid, cmap="Greys", vmin=0, vmax=1.4, aspect="auto", interpolation="nearest")
    ax.set_xticks(range(len(cols)), cols, rotation=55, ha="right", rotation_mode="anchor")
    ax.set_xticks(np.arange(-0.5, len(cols)), minor=True)
    ax.set_yticks(np.arange(-0.5, len(pats)), minor=True)
    ax.grid(which="minor", color="white", lw=1.5)
    ax.tick_params(which="minor", length=0)
    ax.set_yticks(range(len(pats)), [f"{c:,}" for c in counts], fontsize=8)
    ax.set_ylabel("rows with the pattern")
    ax.set_title("Missingness patterns (dark = missing)", fontsize=10)
    bx.barh(range(len(pats)), counts, color="C0")
    bx.set_ylim(len(pats) - 0.5, -0.5)  # the rows of the grid
    bx.set_yticks([])
    bx.set_xlabel("rows")
    bx.set_title("Rows per pattern", fontsize=10)
    return fig


def trace_figure(info: dict):
    """Mean and SD of the imputed values per iteration, one line per chain (imputation); chains
    that mix and show no trend indicate convergence (van Buuren 2018, sec. 6.5.2)."""
    tr = pd.DataFrame(info["trace"])
    variables = list(dict.fromkeys(tr["variable"]))
    fig, axes = _figure(nrows=len(variables), ncols=2, figsize=(8, 2.2 * len(variables)))
    for i, v in enumerate(variables):
        sub = tr[tr["variable"] == v]
        for j, stat in enumerate(("mean", "sd")):
            ax = axes[i, j]
            for _, chain in sub.groupby("imputation"):
                ax.plot(chain["iteration"], chain[stat], lw=0.7)
            ax.set_title(f"{v}: {stat} of imputed values", fontsize=9)
            ax.set_xlabel("iteration")
    fig.tight_layout()
    return fig


def tipping_figure(result: dict):
    """Pooled estimate of the key term with its confidence interval against delta (in SDs of the
    observed outcome); filled markers where p < alpha, the tipping points as dashed lines."""
    rows = pd.DataFrame(result["rows"]).sort_values("delta")
    fig, axes = _figure(figsize=(6, 3.6))
    ax = axes[0, 0]
    ax.fill_between(rows["delta"], rows["ci_low"], rows["ci_high"], color="C0", alpha=0.2)
    ax.plot(rows["delta"], rows["estimate"], color="C0")
    sig = rows["p"] < result["alpha"]
    ax.scatter(rows.loc[sig, "delta"], rows.loc[sig, "estimate"], color="C0", zorder=3)
    ax.scatter(
        rows.loc[~sig, "delta"], rows.loc[~sig, "estimate"], facecolor="white", color="C0", zorder=3
    )
    ax.axhline(0, color="grey", lw=0.8)
    for side in ("negative", "positive"):
        tp = result["tipping_point"][side]
        if tp is not None:
            ax.axvline(tp, color="C3", ls="--", lw=1)
            ax.annotate(
                f"tipping point {tp:.2f}",
                (tp, ax.get_ylim()[1]),
                color="C3",
                fontsize=8,
                ha="center",
                va="bottom",
            )
    if result.get("units"):  # non-gaussian plans: delta on the link / latent scale
        ax.set_xlabel(f"delta: {result['units']}", fontsize=8)
        title = f"MNAR sensitivity: imputed {result['family']} outcomes, model shifted by delta"
    else:
        ax.set_xlabel(f"delta (SD of observed {result['outcome']} = {result['sd_observed']:.3g})")
        title = "MNAR sensitivity: imputed outcomes shifted by delta x SD"
    ax.set_ylabel(f"pooled estimate of {result['term']}")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
