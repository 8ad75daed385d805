"""Pool one model's fits across imputations (identity for a single data set)."""

import json
import sys

from mlmpipe.steps import pool_step

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
pooled = pool_step([json.load(open(p)) for p in sm.input.fits])
json.dump(pooled, open(sm.output[0], "w"), indent=1)
