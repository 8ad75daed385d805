# mlmpipe: the analysis plan (config/analysis.yaml) as a Snakemake DAG.
# Stages: fetch_example -> validate -> missing -> center -> fit -> pool -> compare -> report.

from mlmpipe import run_errors
from mlmpipe.plan import plan_yaml_problem

# Snakemake's own reading of a broken YAML file names neither line nor column.
if problem := plan_yaml_problem("config/analysis.yaml"):
    raise SystemExit(f"mlmpipe: invalid plan: {problem}")


# the plan: config/analysis.yaml, or exactly the file of `mlmpipe run --plan FILE` (never merged)
import os


configfile: os.environ.get("MLMPIPE_PLAN") or "config/analysis.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/missing.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/sensitivity.smk"
include: "workflow/rules/effects.smk"
include: "workflow/rules/predictions.smk"
include: "workflow/rules/prereg.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/power.smk"


rule all:
    input:
        mp.targets(PLAN),


onerror:
    # the failing rules' one-line errors, read from their logs (mlmpipe run prints them itself)
    run_errors.onerror(log)
