"""MNAR delta adjustment of the imputed outcome over the planned grid; tipping-point plot."""

import json
import sys

import pandas as pd

from mlmpipe.report.figures import to_png
from mlmpipe.steps.delta import delta_step

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
res, fig = delta_step([pd.read_parquet(p) for p in sm.input.data], sm.params.spec)
json.dump(res, open(sm.output.json, "w"), indent=1)
open(sm.output.figure, "wb").write(to_png(fig))
