"""Compare the executed plan and the analysed raw file with the frozen ones (reports/deviations.json)."""

import json
import sys

from mlmpipe.prereg.diff import deviations_step

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
report = deviations_step(sm.params.plan, raw_file=sm.input.raw)
json.dump(report, open(sm.output[0], "w"), indent=1, default=str)
