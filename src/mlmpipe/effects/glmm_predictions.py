"""The pipeline's GLMM predictions of the final model: the planned (or default) table and the curves
of the prediction plot, cluster-specific and population-averaged (formulas in
``effects/predictions.py``, grid rules in ``effects/prediction_grid.py``).

The model is fitted again to the analysis data, not restored: the population-averaged intervals use
the covariance of (theta, beta[, thresholds]) from the fit's Hessian, which the fit record does not
carry (only its beta block, ``FitRecord.vcov``). With multiple imputation (several data sets) it is
fitted to every completed data set and the predictions are pooled by Rubin's rules on the scale of
their intervals (``effects/mi_predictions.py``); the grid, the named clusters and the curves' x values
come from the first completed data set so that every imputation predicts the same rows. Plot: the
mean response against a focal continuous variable (2nd to 98th percentile, ``CURVE_POINTS``
points), one line per moderator value, every other variable at its mean or first level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlmpipe.effects.prediction_grid import (
    build_grid,
    model_variables,
    predict_at,
    prediction_model,
    variable_values,
)
from mlmpipe.effects.predictions import GH_NODES
from mlmpipe.effects.refit import fit_again
from mlmpipe.engine.glmm_results import GlmmResult
from mlmpipe.errors import PlanError
from mlmpipe.record import FitRecord

CURVE_POINTS = 41

METHOD = (
    "Conditional predictions set the random effects to 0 (a typical cluster) or to a cluster's "
    "conditional modes; population-averaged ones integrate the inverse link over the normal "
    "distribution of the random part of the linear predictor (variance z'Σz summed over grouping "
    "factors) by {nodes}-node Gauss-Hermite quadrature. {level}% intervals: delta method on the "
    "link scale, back-transformed. Typical cluster: uncertainty of the fixed effects only. Named "
    "clusters: fixed effects plus the conditional variance of the cluster's modes (variance "
    "components and the modes' covariance with the fixed effects not included). "
    "Population-averaged: {pa}."
)
PA_JOINT = (
    "fixed effects and variance components jointly (covariance from the Hessian of the "
    "{approx} deviance), interval on the link of the averaged mean"
)
PA_KNOWN = (
    "fixed effects only; the variance components are treated as known ({why}), interval on the "
    "link of the averaged mean"
)


def method_text(res_list: list, alpha: float) -> str:
    """The report's statement of what the intervals include, for the fits the predictions use."""
    joint = all(prediction_model(r).vcov_full is not None for r in res_list)
    if joint:
        approx = "Laplace" if res_list[0].glmm.nagq <= 1 else "adaptive Gauss-Hermite"
        pa = PA_JOINT.format(approx=approx)
    else:
        why = (
            "nAGQ = 0 has no Hessian"
            if res_list[0].glmm.nagq == 0
            else "their Hessian block is not positive definite or a variance is on its boundary"
        )
        pa = PA_KNOWN.format(why=why)
    level = round(100 * (1 - alpha), 6)
    return METHOD.format(nodes=GH_NODES, level=f"{level:g}", pa=pa)


def _first_group_codes(res) -> np.ndarray:
    return res.model.reterms[0].term.codes


def choose_focal_moderator(
    info: dict, within: dict[str, bool], focal: str = "", moderator: str = ""
) -> tuple[str | None, str | None]:
    """Plan choices, else the first continuous within-cluster variable as focal and the first
    cluster-level variable (else the first other categorical one) as moderator."""
    for key, v in (("focal", focal), ("moderator", moderator)):
        if v and v not in info:
            raise PlanError(
                f"report.predictions.{key}: {v!r} is not a variable of the final model "
                f"(its variables: {', '.join(info)})"
            )
    if focal and info[focal]["type"] != "continuous":
        raise PlanError(f"report.predictions.focal: {focal!r} is not continuous")
    cont = [v for v, i in info.items() if i["type"] == "continuous"]
    if not focal:
        focal = next((v for v in cont if within[v]), cont[0] if cont else None)
    if not moderator:
        rest = [v for v in info if v != focal]
        moderator = next(
            (v for v in rest if not within[v]),
            next((v for v in rest if info[v]["type"] == "categorical"), None),
        )
    return focal or None, moderator or None


def default_clusters(res) -> dict[str, list[str]]:
    """Clusters of the first grouping factor with the lowest, median and highest conditional
    intercept (first random-effects column when there is no intercept)."""
    group = res.model.reterms[0].term.group
    modes = res.ranef()[group]
    col = "(Intercept)" if "(Intercept)" in modes.columns else modes.columns[0]
    order = modes[col].sort_values(kind="stable")
    picks = [order.index[0], order.index[len(order) // 2], order.index[-1]]
    return {group: [str(v) for v in dict.fromkeys(picks)]}


@dataclass(frozen=True)
class Layout:
    """What every imputation predicts: the grid, the named clusters and the curves' grids."""

    variables: list[str]
    info: dict
    within: dict[str, bool]
    grid: pd.DataFrame
    note: str | None
    clusters: dict[str, list[str]]
    focal: str | None
    moderator: str | None
    curve_grids: tuple[tuple[str | None, pd.DataFrame], ...]


def refit(rec: FitRecord, data: pd.DataFrame) -> tuple[GlmmResult, pd.DataFrame]:
    """The GLMM of ``rec`` (formula, family, link, nAGQ) fitted to ``data``, and the rows used."""
    res = fit_again(rec, data)
    return res, data.iloc[res.rows].reset_index(drop=True)


def make_layout(res, used: pd.DataFrame, pspec: dict) -> Layout:
    """Grid, clusters and curves of the plan's ``report.predictions`` on the data of ``res``."""
    codes = _first_group_codes(res)
    variables = model_variables(res)
    info = variable_values(used, variables, codes)
    within = {}
    for v in variables:
        x = pd.Series(pd.factorize(used[v])[0] if info[v]["type"] == "categorical" else used[v])
        per = x.groupby(codes).agg(["min", "max"])
        within[v] = bool((per["min"] != per["max"]).any())
    grid, note = build_grid(used, variables, at=pspec["at"] or None, codes=codes)
    if pspec["clusters"]:
        clusters = {res.model.reterms[0].term.group: [str(c) for c in pspec["clusters"]]}
    else:
        clusters = default_clusters(res)
    focal, moderator = choose_focal_moderator(info, within, pspec["focal"], pspec["moderator"])
    curves: list = []
    if focal:
        xs = np.linspace(*np.quantile(used[focal].to_numpy(float), [0.02, 0.98]), CURVE_POINTS)
        for w in info[moderator]["values"] if moderator else [None]:
            at = {v: [info[v]["typical"]] for v in info}
            at[focal] = list(xs)
            if moderator:
                at[moderator] = [w]
            label = None if moderator is None else f"{moderator} = {_label(w)}"
            curves.append((label, build_grid(used, list(info), at=at)[0]))
    return Layout(variables, info, within, grid, note, clusters, focal, moderator, tuple(curves))


def predict_layout(res, used: pd.DataFrame, lay: Layout, alpha: float):
    """The long prediction table at ``lay.grid`` (with the named clusters) and the curves (typical
    cluster and population-averaged; None without a focal variable)."""
    table = predict_at(res, lay.grid, clusters=lay.clusters, alpha=alpha, data=used)
    frames = []
    for label, grid in lay.curve_grids:
        t = predict_at(res, grid, alpha=alpha, data=used)
        t["moderator_value"] = label
        frames.append(t[t["kind"] != "cluster"])
    return table, (pd.concat(frames, ignore_index=True) if frames else None)


def _label(v) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def records(df: pd.DataFrame) -> list[dict]:
    """JSON-ready rows (NaN -> None, NumPy scalars -> Python)."""
    out = df.astype(object).where(pd.notna(df), None)
    return [
        {k: (v if not isinstance(v, np.generic) else v.item()) for k, v in r.items()}
        for r in out.to_dict(orient="records")
    ]


def result_dict(rec: FitRecord, res, lay: Layout, spec: dict, table, curves, method: str) -> dict:
    """The ``reports/predictions.json`` layout."""
    return {
        "model": rec.model,
        "formula": rec.formula_text,
        "family": res.family,
        "link": res.link,
        "alpha": spec["alpha"],
        "nodes": GH_NODES,
        "method": method,
        "variables": {v: {**lay.info[v], "within_cluster": lay.within[v]} for v in lay.variables},
        "grid_note": lay.note,
        "planned": bool(spec["predictions"]["at"]),
        "clusters": lay.clusters,
        "focal": lay.focal,
        "moderator": lay.moderator,
        "imputations": 0,
        "table": records(table),
        "curves": None if curves is None else records(curves),
    }


def glmm_predictions(rec: FitRecord, data: pd.DataFrame, spec: dict) -> dict:
    """Fit the model of ``rec`` (formula, family, link, nAGQ) to ``data`` again and predict at the
    planned covariate values and along the plot's curves; ``spec``: ``alpha`` and ``predictions``
    (the plan's ``report.predictions``)."""
    res, used = refit(rec, data)
    lay = make_layout(res, used, spec["predictions"])
    table, curves = predict_layout(res, used, lay, spec["alpha"])
    return result_dict(rec, res, lay, spec, table, curves, method_text([res], spec["alpha"]))
