"""Compare the executed plan with the frozen one (reports/deviations.json)."""

import json
import sys

from mlmpipe.prereg.diff import deviations_step

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
json.dump(deviations_step(sm.params.plan), open(sm.output[0], "w"), indent=1, default=str)
