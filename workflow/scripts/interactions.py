"""Cross-level interactions of the final model: simple slopes, Johnson-Neyman, prediction lines."""

import json
import sys

import pandas as pd

from mlmpipe.record import load_record
from mlmpipe.steps.effects import interactions_step

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
result = interactions_step(
    pd.read_parquet(sm.input.data), load_record(sm.input.fit), sm.params.spec
)
json.dump(result, open(sm.output[0], "w"), indent=1)
