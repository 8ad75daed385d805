"""Power (plan: power): one simulation batch (rule power_batch) or the pooled tables, curve and
assumptions (rule power)."""

import json
import sys

from mlmpipe.plan import Plan
from mlmpipe.plan.schema import validate_config
from mlmpipe.power.run import simulate_batch, write_outputs
from mlmpipe.power.section import power_section

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
cfg = dict(sm.config)
sec = power_section(validate_config(cfg), Plan.from_config(cfg))
if sm.rule == "power_batch":
    json.dump(simulate_batch(sec, int(sm.wildcards.batch)), open(sm.output[0], "w"), indent=1)
else:
    batches = [json.load(open(p)) for p in sm.input.batches] or None
    write_outputs(sec, batches, "reports/power")
