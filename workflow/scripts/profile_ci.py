"""Profile-likelihood intervals of every variance parameter (SDs, correlations, sigma) of the model sequence."""

import json
import sys

import pandas as pd

from mlmpipe.record import load_record
from mlmpipe.steps.inference import profile_step

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
fits = [load_record(p) for p in sm.input.fits]
result = profile_step(pd.read_parquet(sm.input.data), fits, sm.params.spec)
json.dump(result, open(sm.output[0], "w"), indent=1)
