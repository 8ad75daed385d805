# Missing-data figures and the MNAR delta analysis (mlmpipe.missing); targets: mlmpipe.missing.targets
from mlmpipe import codedeps
from mlmpipe.missing.report_section import missing_report_inputs as mp_missing_inputs


rule missing_figures:
    input:
        report="reports/missing.json",
        code=codedeps.code_files(
            "mlmpipe.steps:missing_figures_step",
            "mlmpipe.report.figures:to_png",
        ),
    output:
        patterns="reports/figures/missing_patterns.png",
    log:
        "logs/missing_figures.log",
    script:
        "../scripts/missing_figures.py"


rule imputation_trace:
    input:
        report="reports/missing.json",
        code=codedeps.code_files(
            "mlmpipe.steps:missing_figures_step",
            "mlmpipe.report.figures:to_png",
        ),
    output:
        trace="reports/figures/imputation_trace.png",
    log:
        "logs/imputation_trace.log",
    script:
        "../scripts/missing_figures.py"


rule delta:
    input:
        data=expand("data/processed/imp{imp}.parquet", imp=PLAN.pooled_imputations),
        code=codedeps.code_files("mlmpipe.steps:delta_step", "mlmpipe.report.figures:to_png"),
    output:
        json="reports/missing_delta.json",
        figure="reports/figures/tipping_point.png",
    params:
        spec=lambda w: PLAN.slice_delta(),
    log:
        "logs/delta.log",
    script:
        "../scripts/delta.py"
