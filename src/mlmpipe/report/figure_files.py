"""The report's result figures as files: each as PNG (for Word) and SVG (for journals)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from mlmpipe.diagnostics import influence_table, standardized_modes
from mlmpipe.record import FitRecord
from mlmpipe.report import diagnostic_figures as dfig
from mlmpipe.report import figures
from mlmpipe.report.glmm_residual_figures import level1_residual_figure
from mlmpipe.report.slopes import slope_figures
from mlmpipe.report.variance_partition import variance_partition_plot, variance_partition_table


def result_figures(
    effects: dict, rec: FitRecord, resid: pd.DataFrame, diag: dict, influence: dict, inter: dict
) -> dict:
    """Name -> matplotlib Figure for the effect-size, diagnostic and interaction figures of the
    final model's record ``rec``."""
    figs = {
        "rights_sterba": dfig.rights_sterba_bars(effects),
        "caterpillar": figures.caterpillar(rec),
        "level1_residuals": level1_residual_figure(rec, resid, diag),  # GLMM: quantile residuals
        "standardized_modes_qq": dfig.standardized_modes_qq(standardized_modes(rec)),
        "residual_sd_by_cluster": dfig.cluster_sd_plot(diag["heteroscedasticity"]),
        "influence_cooks_d": dfig.influence_plot(
            influence_table(influence), influence["cutoffs"]["cooks_d"], influence["group"]
        ),
    }
    for entry in inter["interactions"]:
        name = "interaction_" + re.sub(r"[^A-Za-z0-9]+", "_", entry["term"]).strip("_")
        figs[name] = dfig.interaction_plot(entry)
    return figs


def model_figures(
    rec: FitRecord, data: pd.DataFrame, recs: list[FitRecord], spec: dict, seed: int
) -> dict:
    """Name -> Figure for the interpretation figures of the model sequence ``recs``: the variance
    partition of every model (``variance_partition``), a spaghetti plot per random slope of the
    final model's record ``rec`` (``spaghetti_<variable>``) and, when the plan names
    ``report.time_variable``, the individual trajectories (``trajectories``). ``spec`` is the
    report slice of the plan; clusters are sampled with ``seed``."""
    models = [m["name"] for m in spec["models"]]
    figs = {"variance_partition": variance_partition_plot(variance_partition_table(recs, models))}
    figs.update(slope_figures(rec, data, spec["report"], seed))
    return figs


def save_figures(figs: dict, outdir: str | Path, dpi: int = 150) -> list[Path]:
    """Write ``<outdir>/<name>.png`` and ``<name>.svg`` for each figure; returns the paths."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    import matplotlib  # heavy: only when writing figures

    for name, fig in figs.items():
        for ext in ("png", "svg"):
            p = outdir / f"{name}.{ext}"
            # byte-identical reruns (mlmpipe verify): SVG element ids from a fixed salt, no date
            with matplotlib.rc_context({"svg.hashsalt": f"mlmpipe-{name}"}):
                fig.savefig(p, format=ext, dpi=dpi, bbox_inches="tight", metadata={"Date": None})
            paths.append(p)
    return paths
