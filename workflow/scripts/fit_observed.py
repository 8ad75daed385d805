"""Fit one model of the sequence under one estimator on the observed data set of an imputing
plan."""

import sys

import pandas as pd

from mlmpipe.steps.models import fit_step

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
fit, resid = fit_step(pd.read_parquet(sm.input.data), sm.params.spec)
fit.save(sm.output.fit)  # + the arrays file sm.output.arrays
resid.to_parquet(sm.output.resid, index=False)
