"""Pool the bootstrap batches into percentile intervals."""

import json
import sys

from mlmpipe.record import load_record
from mlmpipe.steps.inference import bootstrap_step

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
batches = [json.load(open(p)) for p in sm.input.batches]
result = bootstrap_step(batches, load_record(sm.input.fit), sm.params.spec)
json.dump(result, open(sm.output[0], "w"), indent=1)
