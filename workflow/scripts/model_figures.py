"""Variance partition, random-slope spaghetti and trajectory figures as PNG and SVG under
reports/figures/model/."""

import json
import sys

import pandas as pd

from mlmpipe.report.figure_files import model_figures, save_figures

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
load = lambda p: json.load(open(p))  # noqa: E731
figs = model_figures(
    load(sm.input.fit),
    pd.read_parquet(sm.input.data),
    [load(p) for p in sm.input.fits],
    json.loads(sm.params.spec),
    sm.params.seed,
)
save_figures(figs, sm.output[0])
