"""Apply the stored centering state to one (imputed) data set."""

import json
import sys

import pandas as pd

from mlmpipe.steps.data import center_step

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
out = center_step(pd.read_parquet(sm.input.data), json.load(open(sm.input.state)))
out.to_parquet(sm.output[0], index=False)
