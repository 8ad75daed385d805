"""Missingness-pattern figure (rule missing_figures) or imputation-trace figure (imputation_trace)."""

import json
import sys

from mlmpipe.report.figures import to_png
from mlmpipe.steps.data import missing_figures_step

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
figs = missing_figures_step(json.load(open(sm.input.report)))
for name, path in sm.output.items():
    open(path, "wb").write(to_png(figs[name]))
