"""The pipeline's GLMM predictions of the final model: the planned (or default) table and the curves
of the prediction plot, cluster-specific and population-averaged (formulas in
``effects/predictions.py``, grid rules in ``effects/prediction_grid.py``).

The model is refitted on the analysis data (the fit JSON does not carry the covariance of the fixed
effects); with multiple imputation that is the first completed data set, as for the interaction
analysis. Plot: the mean response against a focal continuous variable (2nd to 98th percentile,
``CURVE_POINTS`` points), one line per moderator value, every other variable at its mean or first
level.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlmpipe.effects.prediction_grid import (
    build_grid,
    model_variables,
    predict_at,
    variable_values,
)
from mlmpipe.effects.predictions import GH_NODES
from mlmpipe.errors import PlanError

CURVE_POINTS = 41

METHOD = (
    "Conditional predictions set the random effects to 0 (a typical cluster) or to a cluster's "
    "conditional modes; population-averaged ones integrate the inverse link over the normal "
    "distribution of the random part of the linear predictor (variance z'Σz summed over grouping "
    "factors) by {nodes}-node Gauss-Hermite quadrature. {level}% intervals: delta method on the "
    "link scale, back-transformed (population-averaged: link of the averaged mean, treating the "
    "variance components as known; named clusters add the conditional variance of their modes)."
)


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


def _curves(res, data, info, focal, moderator, alpha) -> pd.DataFrame:
    xs = np.linspace(*np.quantile(data[focal].to_numpy(float), [0.02, 0.98]), CURVE_POINTS)
    mods = info[moderator]["values"] if moderator else [None]
    frames = []
    for w in mods:
        at = {v: [info[v]["typical"]] for v in info}
        at[focal] = list(xs)
        if moderator:
            at[moderator] = [w]
        grid, _ = build_grid(data, list(info), at=at)
        t = predict_at(res, grid, alpha=alpha, data=data)
        t["moderator_value"] = None if moderator is None else f"{moderator} = {_label(w)}"
        frames.append(t[t["kind"] != "cluster"])
    return pd.concat(frames, ignore_index=True)


def _label(v) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _records(df: pd.DataFrame) -> list[dict]:
    out = df.astype(object).where(pd.notna(df), None)
    return [
        {k: (v if not isinstance(v, np.generic) else v.item()) for k, v in r.items()}
        for r in out.to_dict(orient="records")
    ]


def glmm_predictions(fit: dict, data: pd.DataFrame, spec: dict) -> dict:
    """Refit ``fit`` (formula, family, link, nAGQ of the plan) on ``data`` and predict at the planned
    covariate values and along the plot's curves; ``spec``: ``alpha``, ``predictions`` (the plan's
    ``report.predictions``), ``family``, ``link``, ``nagq``."""
    import mlmpipe

    pspec = spec["predictions"]
    res = mlmpipe.fit(
        fit["formula"], data, family=spec["family"], link=spec.get("link"), nagq=spec["nagq"]
    )
    used = data.iloc[res.rows].reset_index(drop=True)
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
    table = predict_at(res, grid, clusters=clusters, alpha=spec["alpha"], data=used)
    focal, moderator = choose_focal_moderator(info, within, pspec["focal"], pspec["moderator"])
    curves = _curves(res, used, info, focal, moderator, spec["alpha"]) if focal else None
    level = round(100 * (1 - spec["alpha"]), 6)
    return {
        "model": fit.get("model"),
        "formula": fit["formula"],
        "family": res.family,
        "link": res.link,
        "alpha": spec["alpha"],
        "nodes": GH_NODES,
        "method": METHOD.format(nodes=GH_NODES, level=f"{level:g}"),
        "variables": {v: {**info[v], "within_cluster": within[v]} for v in variables},
        "grid_note": note,
        "planned": bool(pspec["at"]),
        "clusters": clusters,
        "focal": focal,
        "moderator": moderator,
        "table": _records(table),
        "curves": None if curves is None else _records(curves),
    }
