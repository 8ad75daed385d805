"""Structure checks and per-level descriptives of the raw data; warn-level findings (a suspected
missing-value code, an encoding fallback, small clusters...) are also shown on the terminal."""

import json
import sys

from mlmpipe.data.descriptives import descriptives_table
from mlmpipe.run_errors import announce
from mlmpipe.steps.data import check_warnings, read_raw_step, validate_step

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
raw, notes = read_raw_step(sm.input.raw, sm.params.format, sm.params.spec)
clean, checks, desc = validate_step(raw, sm.params.spec, notes)
for message in check_warnings(checks):
    announce(f"validate: {message}")
clean.to_parquet(sm.output.clean, index=False)
json.dump(checks, open(sm.output.checks, "w"), indent=2, default=str)
json.dump(desc, open(sm.output.descriptives, "w"), indent=2, default=str)
descriptives_table(desc).to_csv(sm.output.table, index=False)
