"""Variance partition across the model sequence: the table and its stacked bar chart.

For each model of the sequence the variance components of the outcome are its level-1 residual
variance sigma^2 and, per grouping factor, the intercept variance tau_00 (for a model with random
slopes, the between-cluster variance where the slope variables are 0). The proportional reduction
in variance of each component relative to the null model,

    PRV = (component in the null model - component in model m) / component in the null model,

is the "proportion of variance explained" at that level of Raudenbush & Bryk (2002, sec. 4.4,
eqs. 4.20 and 4.24). Random-slope variances are listed in the table, but are not stacked: they are
in units of (outcome / slope variable)^2, not of the outcome. For a GLMM sigma^2 is the latent-scale
level-1 variance (pi^2 / 3 for the logit link) the fit records, as for its ICC.
"""

from __future__ import annotations

import pandas as pd

from mlmpipe.prereg.tables import reporting_fit
from mlmpipe.record import FitRecord
from mlmpipe.report.figures import _figure


def variance_partition_table(recs: list[FitRecord], models: list[str]) -> pd.DataFrame:
    """One row per model and variance component, models in sequence order (the first is the
    null model): ``model, estimator, component, kind, variance, share, prv``.

    ``share`` is the component's part of the stacked total (sigma^2 + intercept variances);
    ``prv`` the proportional reduction relative to the null model's same component (None for
    slope variances and components the null model lacks). REML fits are used when planned.
    """
    rows = []
    null = reporting_fit(recs, models[0])
    null_vc = null.variance_components() if null else {}
    for name in models:
        rec = reporting_fit(recs, name)
        if rec is None:
            continue
        vc = rec.variance_components()
        total = sum(vc.values())
        order = [g for g in vc if g != "Residual"] + ["Residual"]
        for g in order:
            v0 = null_vc.get(g)
            rows.append(
                {
                    "model": name,
                    "estimator": rec.estimator,
                    "component": "residual (level 1)" if g == "Residual" else f"{g} intercept",
                    "kind": "stacked",
                    "variance": vc[g],
                    "share": vc[g] / total if total > 0 else None,
                    "prv": (v0 - vc[g]) / v0 if v0 else None,
                }
            )
        for r in rec.variances():
            if r.group != "Residual" and r.term1 != "(Intercept)":
                rows.append(
                    {
                        "model": name,
                        "estimator": rec.estimator,
                        "component": f"{r.group} slope of {r.term1}",
                        "kind": "slope (not stacked)",
                        "variance": float(r.vcov),
                        "share": None,
                        "prv": None,
                    }
                )
    return pd.DataFrame(
        rows, columns=["model", "estimator", "component", "kind", "variance", "share", "prv"]
    )


def variance_partition_plot(table: pd.DataFrame):
    """Stacked bars: one bar per model, one segment per stacked component (labelled with its
    variance when tall enough to hold the label); under each model from the second on, the PRV of
    each component relative to the null model."""
    t = table[table["kind"] == "stacked"]
    models = list(dict.fromkeys(t["model"]))
    comps = list(dict.fromkeys(t["component"]))
    fig, axes = _figure(figsize=(max(5.0, 1.5 * len(models) + 2.5), 4.8))
    ax = axes[0, 0]
    cell = {(r.model, r.component): r for r in t.itertuples(index=False)}
    totals = t.groupby("model", sort=False)["variance"].sum()
    bottoms = [0.0] * len(models)
    for k, comp in enumerate(comps):
        heights = [float(cell[(m, comp)].variance) if (m, comp) in cell else 0.0 for m in models]
        bars = ax.bar(
            range(len(models)), heights, bottom=bottoms, color=f"C{k}", label=comp, width=0.6
        )
        for i, (bar, h) in enumerate(zip(bars, heights, strict=True)):
            if h >= 0.06 * float(totals.max()):
                ax.text(
                    bar.get_x() + bar.get_width() / 2,
                    bottoms[i] + h / 2,
                    f"{h:.4g}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white",
                )
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    labels = []
    for i, m in enumerate(models):
        prv = [
            f"{c.split(' ')[0]} {cell[(m, c)].prv:+.0%}"
            for c in comps
            if i > 0 and (m, c) in cell and pd.notna(cell[(m, c)].prv)
        ]
        labels.append("\n".join([m, *(["PRV:"] + prv if prv else [])]))
    ax.set_xticks(range(len(models)), labels, fontsize=8)
    ax.set_ylabel("variance (outcome units squared)")
    ax.set_title("Variance partition across the model sequence")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.tight_layout()
    return fig
