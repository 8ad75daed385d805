"""Report steps: the APA tables (the rule ``apa_tables``)."""

from __future__ import annotations

from pathlib import Path

from mlmpipe.plan.slices import CompareSlice
from mlmpipe.report.apa import build_tables
from mlmpipe.report.export import write_table


def apa_tables_step(desc, data, fits, comparison, effects, cspec, outdir) -> list:
    """Build the APA tables and write each as ``<outdir>/apa_<name>.{html,docx,tex,csv}``."""
    cspec = CompareSlice.decode(cspec).to_dict()
    tables = build_tables(desc, data, fits, comparison, effects, cspec)
    return [p for name, t in tables.items() for p in write_table(t, Path(outdir) / f"apa_{name}")]
