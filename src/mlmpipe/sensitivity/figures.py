"""The specification-curve plot (Simonsohn, Simmons & Nelson 2020): estimates with CIs sorted by
size (top) and the choice matrix underneath (one row per dimension option, a mark where the
specification uses it). Returns a matplotlib Figure without pyplot state."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlmpipe.sensitivity.grid import NOT_APPLICABLE
from mlmpipe.sensitivity.summary import curve_data


def _choice_rows(dimensions: dict[str, list[str]], curve: pd.DataFrame) -> list[tuple[str, str]]:
    rows = []
    for dim, options in dimensions.items():
        used = set(curve[dim]) if dim in curve else set()
        for opt in options:
            if opt in used:
                rows.append((dim, opt))
        if NOT_APPLICABLE in used:
            rows.append((dim, NOT_APPLICABLE))
    return rows


def specification_curve(
    table: pd.DataFrame,
    dimensions: dict[str, list[str]],
    focal: str,
    alpha: float = 0.05,
    primary: str | None = None,
    scale: str | None = None,
):
    """Specification curve of one focal parameter from :func:`summary.specification_table`;
    ``scale`` names the scale of the estimates (a GLMM's link scale) on the axis."""
    from matplotlib.figure import Figure  # heavy (matplotlib): the curve only

    sub = table[table["focal"] == focal] if "focal" in table.columns else table
    curve = curve_data(sub)
    rows = _choice_rows(dimensions, curve)
    n = len(curve)
    fig = Figure(figsize=(max(6.0, 0.12 * n + 3), 3.2 + 0.22 * len(rows)))
    top, bottom = fig.subplots(
        2, 1, sharex=True, gridspec_kw={"height_ratios": [3, max(1.0, 0.22 * len(rows))]}
    )
    x = curve["rank"].to_numpy()
    est = curve["estimate"].to_numpy()
    sig = (curve["p"] < alpha).to_numpy()
    colors = np.where(sig, "C0", "0.6")
    top.vlines(x, curve["ci_low"], curve["ci_high"], colors=colors, lw=1.0)
    top.scatter(x, est, c=colors, s=12, zorder=3)
    if primary is not None and (curve["id"] == primary).any():
        i = int(np.flatnonzero(curve["id"].to_numpy() == primary)[0])
        top.scatter(
            [x[i]], [est[i]], marker="D", s=40, facecolors="none", edgecolors="C3", zorder=4
        )
    top.axhline(0, color="k", lw=0.7)
    what = f"estimate on the {scale}" if scale else "estimate"
    top.set_ylabel(f"{focal}\n({what}, {100 * (1 - alpha):.0f}% CI)")
    top.set_title(
        f"Specification curve: {n} estimated specifications "
        f"(blue: p < {alpha}; red diamond: primary)"
    )
    for j, (dim, opt) in enumerate(rows):
        mask = (curve[dim] == opt).to_numpy()
        bottom.scatter(x[mask], np.full(mask.sum(), j), marker="|", s=40, color=colors[mask])
    bottom.set_yticks(range(len(rows)))
    bottom.set_yticklabels([f"{dim}: {opt}" for dim, opt in rows], fontsize=7)
    bottom.set_ylim(len(rows) - 0.5, -0.5)
    bottom.set_xlabel("specification (sorted by estimate)")
    bottom.set_xlim(0.5, n + 0.5)
    fig.tight_layout()
    return fig
