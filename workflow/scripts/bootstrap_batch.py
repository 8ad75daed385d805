"""One batch of parametric bootstrap replicates (seeded by the plan's seed and the batch number)."""

import json
import sys

import pandas as pd

from mlmpipe.record import load_record
from mlmpipe.steps.inference import bootstrap_batch_step

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
result = bootstrap_batch_step(
    pd.read_parquet(sm.input.data), load_record(sm.input.fit), sm.params.spec
)
json.dump(result, open(sm.output[0], "w"), indent=1)
