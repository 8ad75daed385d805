"""Centering as a stateful transform: the state (means) is computed once, stored, and reapplied.

* ``grand``: ``c{x} = x - mean(x)``; the mean is taken over the units of the level where ``x``
  lives (over students for a student variable, over schools — one value each — for a school one).
* ``group``: ``c{x} = x - mean_j(x)`` within clusters of the next level up, and the cluster mean
  ``mean{x} = mean_j(x)`` is added as a contextual predictor at that level.
* ``none``: unchanged.

The raw column is always kept. Column names follow the plan's ``centering`` name patterns. A
variant plan that changes a predictor's centering while its models keep the planned columns (the
slice's ``kept``, a multiverse specification) writes the predictor to the planned column under the
new rule (``none``: the raw values) and always writes its cluster mean, so the contextual term of the
model stays; under grand or no centering its coefficient is then the contextual (between minus
within) effect rather than the between effect (Kreft, de Leeuw & Aiken 1995, Multivariate Behav.
Res. 30(1)).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from mlmpipe.errors import DataValidationError


@dataclass
class CenterStep:
    variable: str
    method: str  # grand | group | none (none: a kept column of a variant, see the module doc)
    level: str
    centered: str
    cluster_id: str | None = None  # group: id column of the clusters; grand at level k>1: its id
    cluster_mean: str | None = None  # group only: name of the contextual predictor
    grand_mean: float | None = None
    cluster_means: dict = field(default_factory=dict)  # group: {cluster id (str): mean}


@dataclass
class CenteringState:
    steps: list[CenterStep]

    def to_dict(self) -> dict:
        return {"steps": [asdict(s) for s in self.steps]}

    @classmethod
    def from_dict(cls, d: dict) -> CenteringState:
        return cls([CenterStep(**s) for s in d["steps"]])


def fit_centering(df: pd.DataFrame, spec: dict) -> CenteringState:
    """Compute the centering state from data; ``spec`` is the decoded ``Plan.slice_center()``."""
    names = spec["names"]
    levels = spec["levels"]
    kept = spec.get("kept") or {}
    steps = []
    for li, lv in enumerate(levels):
        for var, method in lv["predictors"].items():
            keep = kept.get(var)
            if method == "none" and keep is None:
                continue
            centered = keep["column"] if keep else names["centered_name"].format(name=var)
            parent = levels[li + 1] if li + 1 < len(levels) else None
            means = {}
            mean_col = None
            if method == "group" or (keep and parent is not None):
                mean_col = keep["cluster_mean"] if keep else None
                mean_col = mean_col or names["cluster_mean_name"].format(name=var)
                grouped = df.groupby(parent["id"], observed=True)[var].mean()
                means = {str(k): float(v) for k, v in grouped.items()}
            if method == "group":
                steps.append(
                    CenterStep(
                        variable=var,
                        method="group",
                        level=lv["name"],
                        centered=centered,
                        cluster_id=parent["id"],
                        cluster_mean=mean_col,
                        cluster_means=means,
                    )
                )
                continue
            grand = None
            if method == "grand":
                unit = df if li == 0 else df.drop_duplicates(subset=[lv["id"]])
                grand = float(unit[var].mean())
            steps.append(
                CenterStep(
                    variable=var,
                    method=method,
                    level=lv["name"],
                    centered=centered,
                    cluster_id=parent["id"] if mean_col else (lv["id"] if li > 0 else None),
                    cluster_mean=mean_col,
                    grand_mean=grand,
                    cluster_means=means,
                )
            )
    return CenteringState(steps)


def apply_centering(df: pd.DataFrame, state: CenteringState) -> pd.DataFrame:
    """Add the centred (and cluster-mean) columns defined by ``state`` to a copy of ``df``."""
    out = df.copy()
    for s in state.steps:
        for col in (s.centered, s.cluster_mean):
            if col and col != s.variable and col in df.columns:
                raise DataValidationError(
                    f"centering: column {col!r} (made from {s.variable!r}) already exists in the "
                    "data; rename it or change the plan's centering name patterns"
                )
        x = out[s.variable].astype(float)
        m = None
        if s.cluster_mean:
            keys = out[s.cluster_id].astype(str)
            unknown = sorted(set(keys) - set(s.cluster_means))
            if unknown:
                raise DataValidationError(
                    f"centering: cluster(s) {', '.join(unknown[:5])} of {s.cluster_id!r} have no "
                    "stored mean; the centering state was computed on other data"
                )
            m = keys.map(s.cluster_means).astype(float).to_numpy()
            out[s.cluster_mean] = m
        if s.method == "grand":
            out[s.centered] = x - s.grand_mean
        elif s.method == "group":
            out[s.centered] = x.to_numpy() - m
        else:  # a variant's kept column without centering
            out[s.centered] = x
    return out


def centering_log(state: CenteringState) -> list[dict]:
    """One line per decision, for the report."""
    rows = []
    for s in state.steps:
        if s.method in ("grand", "none"):
            text = (
                f"{s.centered} = {s.variable} - {s.grand_mean:.6g} (grand mean over {s.level} units)"
                if s.method == "grand"
                else f"{s.centered} = {s.variable} (not centred)"
            )
            if s.cluster_mean:
                text += (
                    f"; {s.cluster_mean} = mean of {s.variable} within {s.cluster_id}, kept as "
                    "the model's contextual predictor"
                )
        else:
            vals = np.array(list(s.cluster_means.values()))
            text = (
                f"{s.centered} = {s.variable} - {s.cluster_mean}; {s.cluster_mean} = mean of "
                f"{s.variable} within {s.cluster_id} ({len(vals)} clusters, means "
                f"{vals.min():.3g} to {vals.max():.3g}), a contextual predictor at the level of "
                f"{s.cluster_id}"
            )
        rows.append(
            {"variable": s.variable, "method": s.method, "level": s.level, "description": text}
        )
    return rows
