"""Structure checks and per-level descriptives of the raw data."""

import json
import sys

from mlmpipe.data import read_table
from mlmpipe.data.descriptives import descriptives_table
from mlmpipe.steps.data import validate_step

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
raw = read_table(sm.input.raw, sm.params.format)
clean, checks, desc = validate_step(raw, sm.params.spec)
clean.to_parquet(sm.output.clean, index=False)
json.dump(checks, open(sm.output.checks, "w"), indent=2, default=str)
json.dump(desc, open(sm.output.descriptives, "w"), indent=2, default=str)
descriptives_table(desc).to_csv(sm.output.table, index=False)
