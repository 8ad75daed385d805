"""Specification table, robustness summary and specification-curve figure of the multiverse."""

import json
import sys

from mlmpipe.sensitivity.steps import summary_step

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
summary, table, png = summary_step([json.load(open(p)) for p in sm.input.specs], sm.params.spec)
json.dump(summary, open(sm.output.summary, "w"), indent=1)
table.to_csv(sm.output.table, index=False)
open(sm.output.figure, "wb").write(png)
