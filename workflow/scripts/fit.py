"""Fit one model of the sequence under one estimator on every pooled data set (one random
structure for all of them)."""

import sys

import pandas as pd

from mlmpipe.steps.models import fit_imputations

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
fits = fit_imputations([pd.read_parquet(p) for p in sm.input.data], sm.params.spec)
for (fit, resid), fit_out, resid_out in zip(fits, sm.output.fit, sm.output.resid, strict=True):
    fit.save(fit_out)  # + its arrays file (sm.output.arrays)
    resid.to_parquet(resid_out, index=False)
