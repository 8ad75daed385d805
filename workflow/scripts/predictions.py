"""GLMM predictions of the final model: table + curves (JSON) and the prediction plot (PNG + SVG)."""

import json
import sys

import pandas as pd

from mlmpipe.record import load_record
from mlmpipe.report.figure_files import save_figures
from mlmpipe.steps.effects import predictions_step

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
result, figs = predictions_step(
    [pd.read_parquet(p) for p in sm.input.data], load_record(sm.input.fit), sm.params.spec
)
json.dump(result, open(sm.output.json, "w"), indent=1)
save_figures(figs, sm.output.figures)
