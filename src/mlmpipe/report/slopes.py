"""Random-slope spaghetti plots and individual trajectories of longitudinal plans.

Both draw model-implied lines from a fit record (its parsed formula, fixed effects and conditional
modes) and the data it was fitted to. A line is evaluated on a grid of the focal variable ``x`` by setting ``x`` to each
grid value in every row, rebuilding the model matrices and averaging the predictions over the rows
of interest, so interactions and transformed terms of ``x`` are handled by the formula code itself:

- cluster ``j``'s line is ``mean_{i in j} (x_i(x)' beta + z_i(x)' b_j)`` with ``b_j`` its conditional
  mode (BLUP) for the grouping factor of the slope, i.e. the cluster's own regression of ``y`` on
  ``x`` with its other covariates at their cluster means (Raudenbush & Bryk 2002, ch. 4, the
  "empirical Bayes" lines of Figure 4.1);
- the average line is ``mean_i x_i(x)' beta`` over all rows, the fixed part (the population-average
  line of a linear mixed model).

For a trajectory plot ``x`` is the plan's time variable (``report.time_variable``) and the observed
outcome of each sampled individual is drawn against time with the model-implied mean trajectory on
top (Singer & Willett 2003, ch. 2-4). Clusters are sampled with the plan's seed when there are more
than ``max_clusters``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from mlmpipe.errors import EstimationError
from mlmpipe.formula.design import new_data_matrices
from mlmpipe.record import FitRecord
from mlmpipe.report.figures import _figure


def _sample(n: int, k: int, seed: int) -> np.ndarray:
    """Sorted indices of ``k`` of ``n`` clusters drawn with ``seed`` (all when ``n <= k``)."""
    if n <= k:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))


def _grid(x: np.ndarray, n: int) -> np.ndarray:
    u = np.unique(x)
    return u if len(u) <= n else np.linspace(float(x.min()), float(x.max()), n)


def _evaluate(rec: FitRecord, data: pd.DataFrame, variable: str, group: str, grid: np.ndarray):
    """Per grid value: fixed predictions (g, n) and random-effect rows Z (g, n, q) of ``group``,
    from the model matrices of the fitted rows with ``variable`` set to that value (factor levels,
    contrasts and data-dependent transforms as learned on the data, as in ``predict``).

    Returns ``(design, fixed, Z, terms)``; rows are those the fit used (``design.rows``)."""
    names = list(rec.fixed_terms)
    beta = np.array([f.estimate for f in rec.fixed], float)
    base = rec.design(data)
    cols = list(base.fixed_names)
    missing = [t for t in names if t not in cols]
    if missing:
        raise EstimationError(
            f"{rec.label}: fixed terms {', '.join(missing)} are not in the design rebuilt on the data"
        )
    k = next((i for i, t in enumerate(base.re_terms) if t.group == group), None)
    if k is None:
        raise EstimationError(f"{rec.label}: no grouping factor {group!r} in {rec.formula_text!r}")
    used = data.iloc[base.rows]
    fixed, Zs = [], []
    for v in grid:
        X, _, Z, _ = new_data_matrices(base, used.assign(**{variable: float(v)}))
        fixed.append(np.asarray(X, float)[:, [cols.index(t) for t in names]] @ beta)
        Zs.append(np.asarray(Z[k], float))
    return base, np.array(fixed), np.array(Zs), list(base.re_terms[k].names)


def slope_variables(rec: FitRecord, data: pd.DataFrame) -> list[tuple[str, str]]:
    """``(group, variable)`` for each random slope of ``rec`` that is a numeric data column."""
    out = []
    for group, modes in rec.ranef.items():
        for t in modes.terms:
            if t != "(Intercept)" and t in data.columns and pd.api.types.is_numeric_dtype(data[t]):
                out.append((group, t))
    return out


def inverse_link(rec: FitRecord, eta: np.ndarray) -> np.ndarray:
    """Linear predictor -> mean of the outcome for the fit's family and link (the model-implied
    mean trajectory of a GLMM averages the conditional means at b = 0 over the rows); an ordinal
    fit stays on the latent scale. EstimationError naming the model for a link without inverse."""
    try:
        return rec.family.inverse_link(eta)
    except KeyError:
        raise EstimationError(f"{rec.label}: no inverse for link {rec.family.link!r}") from None


def scale_note(family: str | None, link: str | None) -> str:
    """Axis note for the spaghetti lines, which are on the linear-predictor scale."""
    if family in (None, "gaussian"):
        return ""
    return f" (linear predictor, {link or 'latent'} scale)"


def cluster_lines(
    rec: FitRecord,
    data: pd.DataFrame,
    variable: str,
    group: str,
    max_clusters: int = 30,
    seed: int = 0,
    n_grid: int = 12,
) -> dict:
    """Model-implied lines of ``variable`` per sampled cluster (fixed part + conditional modes of
    ``group``) over each cluster's observed range, and the average (fixed-part) line.

    Raises EstimationError naming the model, group or column when the fit has no conditional
    modes for ``group`` or ``variable`` is not a column of ``data``.
    """
    label = rec.label
    if variable not in data.columns:
        raise EstimationError(f"{label}: spaghetti plot variable {variable!r} is not a data column")
    ranef = rec.ranef.get(group)
    if ranef is None:
        raise EstimationError(f"{label}: no conditional modes for group {group!r} in the fit")
    x_all = pd.to_numeric(data[variable], errors="coerce").to_numpy(float)
    grid = _grid(x_all[~np.isnan(x_all)], n_grid)
    design, fixed, Z, terms = _evaluate(rec, data, variable, group, grid)
    re_term = next(t for t in design.re_terms if t.group == group)
    if terms != list(ranef.terms):
        raise EstimationError(f"{label}: random terms of {group!r} do not match the fit")
    B = np.asarray(ranef.values, float)
    pos = {str(lv): i for i, lv in enumerate(ranef.levels)}
    x = x_all[design.rows]
    codes = np.asarray(re_term.codes)
    chosen = _sample(len(re_term.levels), max_clusters, seed)
    clusters = []
    for c in chosen:
        lv = str(re_term.levels[c])
        rows = codes == c
        if lv not in pos or not rows.any():
            continue
        b = B[pos[lv]]
        pred = fixed[:, rows].mean(axis=1) + Z[:, rows, :].mean(axis=1) @ b
        lo, hi = float(x[rows].min()), float(x[rows].max())
        xs = np.linspace(lo, hi, 10) if hi > lo else np.array([lo])
        clusters.append(
            {
                "id": lv,
                "x": xs.tolist(),
                "y": np.interp(xs, grid, pred).tolist(),
                "n": int(rows.sum()),
            }
        )
    return {
        "model": label,
        "group": group,
        "variable": variable,
        "outcome": design.response,
        "clusters_total": len(re_term.levels),
        "clusters": clusters,
        "family": rec.family.name,
        "link": rec.family.link,
        "average": {"x": grid.tolist(), "y": fixed.mean(axis=1).tolist()},
        "seed": seed,
    }


def trajectories(
    rec: FitRecord,
    data: pd.DataFrame,
    time: str,
    group: str | None = None,
    max_clusters: int = 30,
    seed: int = 0,
) -> dict:
    """Observed outcome over ``time`` for a seeded sample of individuals (clusters of ``group``,
    the fit's first grouping factor by default) and the model-implied mean trajectory."""
    label = rec.label
    if time not in data.columns:
        raise EstimationError(f"{label}: report.time_variable {time!r} is not a data column")
    design = rec.design(data)
    group = group or design.re_terms[0].group
    re_term = next((t for t in design.re_terms if t.group == group), None)
    if re_term is None:
        raise EstimationError(f"{label}: no grouping factor {group!r} in {rec.formula_text!r}")
    t_all = pd.to_numeric(data[time], errors="coerce").to_numpy(float)[design.rows]
    y = np.asarray(design.y, float)
    codes = np.asarray(re_term.codes)
    people = []
    for c in _sample(len(re_term.levels), max_clusters, seed):
        rows = np.flatnonzero(codes == c)
        order = rows[np.argsort(t_all[rows], kind="stable")]
        people.append(
            {"id": str(re_term.levels[c]), "time": t_all[order].tolist(), "y": y[order].tolist()}
        )
    grid = _grid(t_all, 25)
    _, fixed, _, _ = _evaluate(rec, data, time, group, grid)
    mean = inverse_link(rec, fixed).mean(axis=1)
    return {
        "model": label,
        "group": group,
        "time": time,
        "outcome": design.response,
        "clusters_total": len(re_term.levels),
        "observed": people,
        "mean": {"time": grid.tolist(), "y": mean.tolist()},
        "seed": seed,
    }


def spaghetti_plot(lines: dict):
    """Figure: one thin line per sampled cluster and the average line on top (thick, black)."""
    fig, axes = _figure(figsize=(6, 4.2))
    ax = axes[0, 0]
    for i, c in enumerate(lines["clusters"]):
        ax.plot(c["x"], c["y"], lw=0.8, alpha=0.6, color=f"C{i % 10}")
    ax.plot(
        lines["average"]["x"],
        lines["average"]["y"],
        lw=2.6,
        color="black",
        label="average (fixed part)",
    )
    shown, total = len(lines["clusters"]), lines["clusters_total"]
    ax.set_title(
        f"{lines['model']}: {lines['variable']} slope per {lines['group']} "
        f"({shown} of {total}{', sampled' if shown < total else ''})"
    )
    ax.set_xlabel(lines["variable"])
    ax.set_ylabel(
        f"predicted {lines['outcome']}{scale_note(lines.get('family'), lines.get('link'))}"
    )
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


def trajectory_plot(traj: dict):
    """Figure: observed individual trajectories (thin) and the model-implied mean trajectory."""
    fig, axes = _figure(figsize=(6, 4.2))
    ax = axes[0, 0]
    for p in traj["observed"]:
        ax.plot(p["time"], p["y"], "-o", ms=2, lw=0.7, alpha=0.5, color="C0")
    ax.plot(
        traj["mean"]["time"],
        traj["mean"]["y"],
        lw=2.6,
        color="C3",
        label=f"model-implied mean ({traj['model']})",
    )
    shown, total = len(traj["observed"]), traj["clusters_total"]
    ax.set_title(f"Observed trajectories: {shown} of {total} {traj['group']}")
    ax.set_xlabel(traj["time"])
    ax.set_ylabel(traj["outcome"])
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


def slope_figures(rec: FitRecord, data: pd.DataFrame, report: dict, seed: int) -> dict:
    """Name -> Figure: ``spaghetti_<variable>`` per random slope of ``rec`` and ``trajectories``
    when the plan names a time variable (``report.time_variable``); ``{}`` when neither applies."""
    k = int(report.get("spaghetti_clusters", 30))
    figs = {}
    pairs = slope_variables(rec, data)
    for group, var in pairs:
        name = var if len({g for g, _ in pairs}) == 1 else f"{group}_{var}"
        name = "spaghetti_" + re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")
        figs[name] = spaghetti_plot(cluster_lines(rec, data, var, group, k, seed))
    if report.get("time_variable"):
        figs["trajectories"] = trajectory_plot(
            trajectories(rec, data, report["time_variable"], max_clusters=k, seed=seed)
        )
    return figs


def report_items(figdir: str | Path) -> list[tuple[str, object]]:
    """The report's "Random slopes and trajectories" section from the files the
    ``model_figures`` rule wrote: ``("md", text)`` and ``("png", bytes)`` items in order."""
    figdir = Path(figdir)
    items: list[tuple[str, object]] = []
    for p in sorted(figdir.glob("spaghetti_*.png")):
        items.append(("md", f"**Random slope of {p.stem.removeprefix('spaghetti_')}**"))
        items.append(("png", p.read_bytes()))
    traj = figdir / "trajectories.png"
    if traj.exists():
        items.append(("md", "**Individual trajectories** (plan key `report.time_variable`)"))
        items.append(("png", traj.read_bytes()))
    if not items:
        items.append(
            (
                "md",
                "The final model has no random slope of a data column and the plan names no "
                "time variable (`report.time_variable`): no spaghetti or trajectory plot.",
            )
        )
    return items
