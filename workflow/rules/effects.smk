# Effect sizes of the model sequence and diagnostics of the final model (issue 6).
from mlmpipe import codedeps


# REPORT_EST (REML when planned, else ML), FINAL_MODEL and IMP0 come from common.smk (the Plan).


rule effects:
    input:  # per imputation (imp0 alone without imputation): effect sizes pooled over them
        data=[paths.processed_path(i) for i in PLAN.pooled_imputations],
        fits=[
            paths.fit_path(m, REPORT_EST, i)
            for m in PLAN.model_names
            for i in PLAN.pooled_imputations
        ],
        code=codedeps.code_files(
            "mlmpipe.record:load_record",
            "mlmpipe.steps.effects:effects_step",
        ),
    output:
        paths.EFFECTS,
    params:
        spec=lambda w: PLAN.slice_compare(),
    log:
        "logs/effects.log",
    script:
        "../scripts/effects.py"


rule diagnose:
    input:
        data=paths.processed_path(IMP0),
        fit=paths.fit_path(FINAL_MODEL, REPORT_EST, IMP0),
        resid=paths.resid_path(FINAL_MODEL, REPORT_EST, IMP0),
        code=codedeps.code_files(
            "mlmpipe.record:load_record",
            "mlmpipe.steps.diagnose:diagnose_step",
        ),
    output:
        residuals=paths.DIAG_RESIDUALS,
        influence=paths.DIAG_INFLUENCE,
    params:
        spec=lambda w: PLAN.slice_compare(),
        seed=PLAN.seed,  # randomized quantile / surrogate residuals of GLMM and ordinal fits
    log:
        "logs/diagnose.log",
    script:
        "../scripts/diagnose.py"


rule apa_tables:
    input:
        descriptives=paths.DESCRIPTIVES,
        data=paths.CLEAN,
        fits=[paths.pooled_path(m, e) for m in PLAN.model_names for e in PLAN.estimators],
        comparison=paths.COMPARISON,
        effects=paths.EFFECTS,
        code=codedeps.code_files(
            "mlmpipe.record:load_record",
            "mlmpipe.steps.report:apa_tables_step",
        ),
    output:
        expand(
            "reports/tables/apa_{table}.{ext}",
            table=("descriptives", "correlations", "models", "comparison"),
            ext=("html", "docx", "tex", "csv"),
        ),
    params:
        spec=lambda w: PLAN.slice_compare(),
    log:
        "logs/apa_tables.log",
    script:
        "../scripts/apa_tables.py"


rule interactions:
    input:
        data=paths.processed_path(IMP0),
        fit=paths.pooled_path(FINAL_MODEL, REPORT_EST),
        code=codedeps.code_files(
            "mlmpipe.record:load_record",
            "mlmpipe.steps.effects:interactions_step",
        ),
    output:
        paths.INTERACTIONS,
    params:
        spec=lambda w: PLAN.slice_compare(),
    log:
        "logs/interactions.log",
    script:
        "../scripts/interactions.py"


rule profile_ci:
    input:
        data=paths.processed_path(IMP0),
        fits=[paths.pooled_path(m, REPORT_EST) for m in PLAN.model_names],
        code=codedeps.code_files(
            "mlmpipe.record:load_record",
            "mlmpipe.steps.inference:profile_step",
        ),
    output:
        paths.PROFILE_CI,
    params:
        spec=lambda w: PLAN.slice_compare(),
    log:
        "logs/profile_ci.log",
    script:
        "../scripts/profile_ci.py"


# Parametric bootstrap (plan: report.bootstrap); batches are separate jobs seeded by [seed, batch].
BOOT = PLAN.report.bootstrap
BOOT_MODEL = PLAN.bootstrap_model


rule bootstrap_batch:
    input:
        data=paths.processed_path(IMP0),
        fit=paths.pooled_path(BOOT_MODEL, REPORT_EST),
        code=codedeps.code_files(
            "mlmpipe.record:load_record",
            "mlmpipe.steps.inference:bootstrap_batch_step",
        ),
    output:
        paths.bootstrap_batch_path("{batch}"),
    wildcard_constraints:
        batch=r"\d+",
    params:
        spec=lambda w: PLAN.slice_bootstrap_batch(int(w.batch)),
    log:
        "logs/bootstrap/batch{batch}.log",
    script:
        "../scripts/bootstrap_batch.py"


rule bootstrap:
    input:
        batches=[paths.bootstrap_batch_path(b) for b in range(BOOT.batches)],
        fit=paths.pooled_path(BOOT_MODEL, REPORT_EST),
        code=codedeps.code_files(
            "mlmpipe.record:load_record",
            "mlmpipe.steps.inference:bootstrap_step",
        ),
    output:
        paths.BOOTSTRAP,
    params:
        spec=lambda w: PLAN.slice_compare(),
    log:
        "logs/bootstrap.log",
    script:
        "../scripts/bootstrap.py"


rule result_figures:
    input:
        effects=paths.EFFECTS,
        fit=paths.fit_path(FINAL_MODEL, REPORT_EST, IMP0),
        resid=paths.resid_path(FINAL_MODEL, REPORT_EST, IMP0),
        diag=paths.DIAG_RESIDUALS,
        influence=paths.DIAG_INFLUENCE,
        interactions=paths.INTERACTIONS,
        code=codedeps.code_files(
            "mlmpipe.record:load_record",
            "mlmpipe.report.figure_files:result_figures",
            "mlmpipe.report.figure_files:save_figures",
        ),
    output:
        directory(paths.RESULT_FIGURES),
    log:
        "logs/result_figures.log",
    script:
        "../scripts/result_figures.py"


rule report_docx:
    input:
        html=paths.REPORT_HTML,
        code=codedeps.code_files("mlmpipe.report.export:report_to_docx"),
    output:
        paths.REPORT_DOCX,
    log:
        "logs/report_docx.log",
    script:
        "../scripts/report_docx.py"
