"""Fit one model of the sequence under one estimator on one data set."""

import json
import sys

import pandas as pd

from mlmpipe.steps import fit_step

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
fit, resid = fit_step(pd.read_parquet(sm.input.data), sm.params.spec)
json.dump(fit, open(sm.output.fit, "w"), indent=1)
resid.to_parquet(sm.output.resid, index=False)
