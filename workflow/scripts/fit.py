"""Fit one model of the sequence under one estimator on every pooled data set (one random
structure for all of them). A fit the convergence ladder leaves unresolved is shown on the
terminal (convergence.on_unresolved: warn)."""

import sys

import pandas as pd

from mlmpipe.ladder import unresolved_message
from mlmpipe.run_errors import announce
from mlmpipe.steps.models import fit_imputations

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
fits = fit_imputations([pd.read_parquet(p) for p in sm.input.data], sm.params.spec)
for (fit, resid), fit_out, resid_out in zip(fits, sm.output.fit, sm.output.resid, strict=True):
    fit.save(fit_out)  # + its arrays file (sm.output.arrays)
    resid.to_parquet(resid_out, index=False)
flagged = [(i, unresolved_message(f.ladder)) for i, (f, _) in enumerate(fits)]
flagged = [(i, m) for i, m in flagged if m]
if flagged:
    rec = fits[flagged[0][0]][0]
    where = f"models.{rec.model} ({rec.estimator})"
    which = "" if len(fits) == 1 else f" in {len(flagged)} of {len(fits)} data sets"
    announce(f"fit: {where}: {flagged[0][1]}{which}")
