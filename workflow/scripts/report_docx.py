"""The HTML report as DOCX (pandoc from the pypandoc-binary wheel)."""

import sys

from mlmpipe.report.export import report_to_docx

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
report_to_docx(sm.input.html, sm.output[0])
