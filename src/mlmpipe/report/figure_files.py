"""The report's result figures as files: each as PNG (for Word) and SVG (for journals)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from mlmpipe.report import diagnostic_figures as dfig
from mlmpipe.report import figures


def result_figures(
    effects: dict, fit: dict, resid: pd.DataFrame, diag: dict, influence: dict, inter: dict
) -> dict:
    """Name -> matplotlib Figure for the effect-size, diagnostic and interaction figures."""
    from mlmpipe.diagnostics import influence_table, standardized_modes

    figs = {
        "rights_sterba": dfig.rights_sterba_bars(effects),
        "caterpillar": figures.caterpillar(fit),
        "level1_residuals": dfig.residual_panels(resid, fit["sigma"]),
        "standardized_modes_qq": dfig.standardized_modes_qq(standardized_modes(fit)),
        "residual_sd_by_cluster": dfig.cluster_sd_plot(diag["heteroscedasticity"]),
        "influence_cooks_d": dfig.influence_plot(
            influence_table(influence), influence["cutoffs"]["cooks_d"], influence["group"]
        ),
    }
    for entry in inter["interactions"]:
        name = "interaction_" + re.sub(r"[^A-Za-z0-9]+", "_", entry["term"]).strip("_")
        figs[name] = dfig.interaction_plot(entry)
    return figs


def save_figures(figs: dict, outdir: str | Path, dpi: int = 150) -> list[Path]:
    """Write ``<outdir>/<name>.png`` and ``<name>.svg`` for each figure; returns the paths."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    import matplotlib

    for name, fig in figs.items():
        for ext in ("png", "svg"):
            p = outdir / f"{name}.{ext}"
            # byte-identical reruns (mlmpipe verify): SVG element ids from a fixed salt, no date
            with matplotlib.rc_context({"svg.hashsalt": f"mlmpipe-{name}"}):
                fig.savefig(p, format=ext, dpi=dpi, bbox_inches="tight", metadata={"Date": None})
            paths.append(p)
    return paths
