"""One function per multiverse rule (influence, specification, summary): typed slices in, objects out."""

from __future__ import annotations

import json

import pandas as pd

from mlmpipe.plan.multiverse import SummarySlice
from mlmpipe.report.figures import to_png
from mlmpipe.sensitivity.figures import specification_curve
from mlmpipe.sensitivity.influence import cluster_influence
from mlmpipe.sensitivity.specification import run_specification
from mlmpipe.sensitivity.summary import summarize


def influence_step(clean: pd.DataFrame, spec: str | dict) -> dict:
    """Cluster Cook's distances of the multiverse's model (computed once for all specifications)."""
    return cluster_influence(clean, spec)


def specification_step(
    clean: pd.DataFrame, spec: str | dict, influence: list[str], datasets: list[str] = ()
) -> dict:
    """Estimate one specification; ``influence`` holds the influence artifact path when it drops
    flagged clusters, ``datasets`` the main missing step's data sets when it shares them (both
    empty otherwise)."""
    infl = None
    if influence:
        with open(influence[0], encoding="utf-8") as fh:
            infl = json.load(fh)
    completed = [pd.read_parquet(p) for p in datasets] if datasets else None
    return run_specification(clean, spec, infl, completed)


def summary_step(results: list[dict], spec: str | dict) -> tuple[dict, pd.DataFrame, bytes]:
    """Summary, table of every specification, and the specification curve (PNG) of the first focal."""
    spec = SummarySlice.decode(spec).to_dict()
    summary, table = summarize(results, spec)
    focal = spec["focal"][0]
    fig = specification_curve(
        table, spec["dimensions"], focal, spec["alpha"], spec["primary"], spec.get("scale")
    )
    return summary, table, to_png(fig)
