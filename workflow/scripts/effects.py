"""Effect sizes of the model sequence: ICC with interval, R^2 measures, Rights & Sterba, PRV."""

import json
import sys

import pandas as pd

from mlmpipe.record import load_record
from mlmpipe.steps.effects import effects_step

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
fits = [load_record(p) for p in sm.input.fits]
result = effects_step([pd.read_parquet(p) for p in sm.input.data], fits, sm.params.spec)
json.dump(result, open(sm.output[0], "w"), indent=1)
