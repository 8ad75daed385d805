"""Estimate one specification of the multiverse (failures are recorded in the artifact)."""

import json
import sys

import pandas as pd

from mlmpipe.sensitivity.steps import specification_step

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
result = specification_step(
    pd.read_parquet(sm.input.data),
    sm.params.spec,
    list(sm.input.influence),
    list(sm.input.datasets),
)
json.dump(result, open(sm.output[0], "w"), indent=1)
