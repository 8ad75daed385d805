"""Variance partition, random-slope spaghetti and trajectory figures as PNG and SVG under
reports/figures/model/."""

import json
import sys

import pandas as pd

from mlmpipe.record import load_record
from mlmpipe.report.figure_files import model_figures, save_figures

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
figs = model_figures(
    load_record(sm.input.fit),
    pd.read_parquet(sm.input.data),
    [load_record(p) for p in sm.input.fits],
    json.loads(sm.params.spec),
    sm.params.seed,
)
save_figures(figs, sm.output[0])
