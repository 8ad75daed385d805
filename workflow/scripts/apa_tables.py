"""APA 7 tables (descriptives, within/between correlations, model sequence, comparison) as HTML,
DOCX, LaTeX and CSV under reports/tables/."""

import json
import sys
from pathlib import Path

import pandas as pd

from mlmpipe.record import load_record
from mlmpipe.steps.report import apa_tables_step

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
load = lambda p: json.load(open(p))  # noqa: E731
apa_tables_step(
    load(sm.input.descriptives),
    pd.read_parquet(sm.input.data),
    [load_record(p) for p in sm.input.fits],
    load(sm.input.comparison),
    load(sm.input.effects),
    sm.params.spec,
    Path(sm.output[0]).parent,
)
