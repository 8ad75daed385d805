from mlmpipe import codedeps


# Missing-data figures and the MNAR delta analysis (mlmpipe.missing); targets: mlmpipe.paths
from mlmpipe.missing.report_section import missing_report_inputs as mp_missing_inputs


rule missing_figures:
    input:
        report=paths.MISSING_REPORT,
        code=codedeps.code_files(
            "mlmpipe.steps.data:missing_figures_step",
            "mlmpipe.report.figures:to_png",
        ),
    output:
        patterns=paths.MISSING_PATTERNS,
    log:
        "logs/missing_figures.log",
    script:
        "../scripts/missing_figures.py"


rule imputation_trace:
    input:
        report=paths.MISSING_REPORT,
        code=codedeps.code_files(
            "mlmpipe.steps.data:missing_figures_step",
            "mlmpipe.report.figures:to_png",
        ),
    output:
        trace=paths.IMPUTATION_TRACE,
    log:
        "logs/imputation_trace.log",
    script:
        "../scripts/missing_figures.py"


rule delta:
    input:
        data=[paths.processed_path(i) for i in PLAN.pooled_imputations],
        code=codedeps.code_files("mlmpipe.steps.delta:delta_step", "mlmpipe.report.figures:to_png"),
    output:
        json=paths.MISSING_DELTA,
        figure=paths.TIPPING_POINT,
    params:
        spec=lambda w: PLAN.slice_delta(),
    log:
        "logs/delta.log",
    script:
        "../scripts/delta.py"
