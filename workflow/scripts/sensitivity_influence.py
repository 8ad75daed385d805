"""Cook's distance of each cluster on the base model's fixed effects (flags influential clusters)."""

import json
import sys

import pandas as pd

from mlmpipe.sensitivity.steps import influence_step

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
result = influence_step(pd.read_parquet(sm.input.data), sm.params.spec)
json.dump(result, open(sm.output[0], "w"), indent=1)
