"""Compute the centering state (means) once; the center rule reapplies it."""

import json
import sys

import pandas as pd

from mlmpipe.steps.data import centering_state_step

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
state = centering_state_step(pd.read_parquet(sm.input.data), sm.params.spec)
json.dump(state, open(sm.output[0], "w"), indent=2)
