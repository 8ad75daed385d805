"""Missing-data diagnostics and handling (listwise; imputation methods slot in here)."""

import json
import sys

import pandas as pd

from mlmpipe.steps.data import missing_step

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
datasets, report = missing_step(
    pd.read_parquet(sm.input.clean), sm.params.spec, sm.params.variables
)
for df, path in zip(datasets, sm.output.imputed, strict=True):
    df.to_parquet(path, index=False)
json.dump(report, open(sm.output.report, "w"), indent=2, default=str)
