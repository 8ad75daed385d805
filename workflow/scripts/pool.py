"""Pool one model's fits across imputations (identity for a single data set)."""

import sys

from mlmpipe.record import load_record
from mlmpipe.steps.models import pool_step

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
pool_step([load_record(p) for p in sm.input.fits]).save(sm.output.fit)  # + sm.output.arrays
