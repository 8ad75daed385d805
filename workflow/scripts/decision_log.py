"""Collect the convergence-ladder decisions of every fit (reports/decisions.json)."""

import json
import sys

from mlmpipe.ladder import decision_log
from mlmpipe.record import load_record

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
fits = {p: load_record(p) for p in sm.input.fits}
json.dump(decision_log(fits), open(sm.output[0], "w"), indent=1)
