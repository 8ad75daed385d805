"""The GLMM prediction plot: the mean response (probability, count or category probability) against
the focal predictor, one colour per moderator value; solid lines with bands are conditional
predictions for a typical cluster (random effects 0), dashed lines with lighter bands the
population-averaged ones (``effects/glmm_predictions.py``)."""

from __future__ import annotations

import pandas as pd

from mlmpipe.report.figures import _figure

YLABEL = {
    "binomial": "predicted probability",
    "poisson": "predicted count",
    "negbin": "predicted count",
}


def _panel(ax, t: pd.DataFrame, focal: str, color_by: str | None, level: str) -> None:
    keys = [None] if color_by is None else list(dict.fromkeys(t[color_by]))
    for i, key in enumerate(keys):
        sub = t if key is None else t[t[color_by] == key]
        for kind, ls, alpha in (("conditional", "-", 0.18), ("population-averaged", "--", 0.08)):
            s = sub[sub["kind"] == kind].sort_values(focal)
            name = f"category {key}" if color_by == "category" else key
            label = ("" if key is None else f"{name}, ") + (
                "typical cluster" if kind == "conditional" else "population-averaged"
            )
            ax.plot(s[focal], s["fit"], ls=ls, color=f"C{i}", lw=1.4, label=label)
            if s["low"].notna().all():
                ax.fill_between(s[focal], s["low"], s["high"], color=f"C{i}", alpha=alpha, lw=0)
    ax.set_xlabel(focal)
    ax.legend(fontsize=7, frameon=False, title=None)
    ax.set_title(f"{level}% intervals", fontsize=8, loc="right")


def prediction_plot(pred: dict):
    """Figure from the ``curves`` of ``reports/predictions.json`` (None when there is no continuous
    focal variable). Ordinal models: one panel per moderator value, one colour per category."""
    if not pred.get("curves"):
        return None
    t = pd.DataFrame(pred["curves"])
    focal, mod = pred["focal"], pred["moderator"]
    level = f"{100 * (1 - pred['alpha']):g}"
    if pred["family"] == "ordinal":
        mods = list(dict.fromkeys(t["moderator_value"]))
        fig, axes = _figure(ncols=len(mods), figsize=(4.2 * len(mods), 3.6))
        for ax, m in zip(axes[0], mods, strict=True):
            _panel(ax, t[t["moderator_value"] == m], focal, "category", level)
            ax.set_ylabel("predicted category probability")
            if mod:
                ax.set_title(m, fontsize=9, loc="left")
        return fig
    fig, axes = _figure(figsize=(6.2, 4.2))
    ax = axes[0, 0]
    _panel(ax, t, focal, "moderator_value" if mod else None, level)
    ax.set_ylabel(YLABEL.get(pred["family"], "predicted mean"))
    return fig


def prediction_figures(pred: dict) -> dict:
    """Name -> Figure for ``report.figure_files.save_figures`` (empty without a focal variable)."""
    fig = prediction_plot(pred)
    return (
        {}
        if fig is None
        else {"predicted_" + ("categories" if pred["family"] == "ordinal" else "means"): fig}
    )
