"""Residual diagnostics and leave-one-cluster-out influence of the final model."""

import json
import sys

import pandas as pd

from mlmpipe.record import load_record
from mlmpipe.steps.diagnose import diagnose_step

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
fit = load_record(sm.input.fit)
res, infl = diagnose_step(
    pd.read_parquet(sm.input.data),
    fit,
    pd.read_parquet(sm.input.resid),
    sm.params.spec,
    sm.params.seed,
)
json.dump(res, open(sm.output.residuals, "w"), indent=1)
json.dump(infl, open(sm.output.influence, "w"), indent=1)
