"""Compare the model sequence: AIC/BIC, LRTs, proportional reduction in variance, ICC."""

import json
import sys

from mlmpipe.record import load_record
from mlmpipe.steps.models import compare_step

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
fits = {(f.model, f.estimator): f for f in map(load_record, sm.input.fits)}
comparison, table = compare_step(fits, sm.params.spec)
json.dump(comparison, open(sm.output.json, "w"), indent=2)
table.to_csv(sm.output.table, index=False)
