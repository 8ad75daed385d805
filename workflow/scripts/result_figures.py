"""Effect-size, diagnostic and interaction figures as PNG and SVG under reports/figures/results/."""

import json
import sys

import pandas as pd

from mlmpipe.record import load_record
from mlmpipe.report.figure_files import result_figures, save_figures

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
load = lambda p: json.load(open(p))  # noqa: E731
figs = result_figures(
    load(sm.input.effects),
    load_record(sm.input.fit),
    pd.read_parquet(sm.input.resid),
    load(sm.input.diag),
    load(sm.input.influence),
    load(sm.input.interactions),
)
save_figures(figs, sm.output[0])
