# Effect sizes of the model sequence and diagnostics of the final model (issue 6).
from mlmpipe import codedeps

EFFECTS_EST = "reml" if "reml" in PLAN.estimators else "ml"
FINAL_MODEL = PLAN.model_names[-1]


rule effects:
    input:  # per imputation (imp0 alone without imputation): effect sizes pooled over them
        data=expand("data/processed/imp{imp}.parquet", imp=PLAN.pooled_imputations),
        fits=expand(
            "reports/fits/{model}/{estimator}/imp{imp}.json",
            model=PLAN.model_names,
            estimator=EFFECTS_EST,
            imp=PLAN.pooled_imputations,
        ),
        code=codedeps.code_files("mlmpipe.steps:effects_step"),
    output:
        "reports/effects.json",
    params:
        spec=lambda w: PLAN.slice_compare(),
    log:
        "logs/effects.log",
    script:
        "../scripts/effects.py"


rule diagnose:
    input:
        data=f"data/processed/imp{PLAN.imputations[0]}.parquet",
        fit=f"reports/fits/{FINAL_MODEL}/{EFFECTS_EST}/imp{PLAN.imputations[0]}.json",
        resid=f"reports/fits/{FINAL_MODEL}/{EFFECTS_EST}/imp{PLAN.imputations[0]}_resid.parquet",
        code=codedeps.code_files("mlmpipe.steps:diagnose_step"),
    output:
        residuals="reports/diagnostics/residuals.json",
        influence="reports/diagnostics/influence.json",
    params:
        spec=lambda w: PLAN.slice_compare(),
        seed=PLAN.seed,  # randomized quantile / surrogate residuals of GLMM and ordinal fits
    log:
        "logs/diagnose.log",
    script:
        "../scripts/diagnose.py"


rule apa_tables:
    input:
        descriptives="reports/tables/descriptives.json",
        data="data/interim/clean.parquet",
        fits=expand(
            "reports/fits/{model}/{estimator}/pooled.json",
            model=PLAN.model_names,
            estimator=PLAN.estimators,
        ),
        comparison="reports/comparison.json",
        effects="reports/effects.json",
        code=codedeps.code_files("mlmpipe.steps:apa_tables_step"),
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
        data=f"data/processed/imp{PLAN.imputations[0]}.parquet",
        fit=f"reports/fits/{FINAL_MODEL}/{EFFECTS_EST}/pooled.json",
        code=codedeps.code_files("mlmpipe.steps:interactions_step"),
    output:
        "reports/interactions.json",
    params:
        spec=lambda w: PLAN.slice_compare(),
    log:
        "logs/interactions.log",
    script:
        "../scripts/interactions.py"


rule profile_ci:
    input:
        data=f"data/processed/imp{PLAN.imputations[0]}.parquet",
        fits=expand(
            "reports/fits/{model}/{estimator}/pooled.json",
            model=PLAN.model_names,
            estimator=EFFECTS_EST,
        ),
        code=codedeps.code_files("mlmpipe.steps:profile_step"),
    output:
        "reports/profile_ci.json",
    params:
        spec=lambda w: PLAN.slice_compare(),
    log:
        "logs/profile_ci.log",
    script:
        "../scripts/profile_ci.py"


# Parametric bootstrap (plan: report.bootstrap); batches are separate jobs seeded by [seed, batch].
BOOT = PLAN.report["bootstrap"]
BOOT_MODEL = BOOT["model"] or FINAL_MODEL


rule bootstrap_batch:
    input:
        data=f"data/processed/imp{PLAN.imputations[0]}.parquet",
        fit=f"reports/fits/{BOOT_MODEL}/{EFFECTS_EST}/pooled.json",
        code=codedeps.code_files("mlmpipe.steps:bootstrap_batch_step"),
    output:
        "reports/bootstrap/batch{batch}.json",
    wildcard_constraints:
        batch=r"\d+",
    params:
        spec=lambda w: mp.canonical_json(
            {"seed": PLAN.seed, "batch": int(w.batch), **{k: BOOT[k] for k in ("resamples", "batches")}}
        ),
    log:
        "logs/bootstrap/batch{batch}.log",
    script:
        "../scripts/bootstrap_batch.py"


rule bootstrap:
    input:
        batches=expand("reports/bootstrap/batch{batch}.json", batch=range(BOOT["batches"])),
        fit=f"reports/fits/{BOOT_MODEL}/{EFFECTS_EST}/pooled.json",
        code=codedeps.code_files("mlmpipe.steps:bootstrap_step"),
    output:
        "reports/bootstrap.json",
    params:
        spec=lambda w: PLAN.slice_compare(),
    log:
        "logs/bootstrap.log",
    script:
        "../scripts/bootstrap.py"


rule result_figures:
    input:
        effects="reports/effects.json",
        fit=f"reports/fits/{FINAL_MODEL}/{EFFECTS_EST}/imp{PLAN.imputations[0]}.json",
        resid=f"reports/fits/{FINAL_MODEL}/{EFFECTS_EST}/imp{PLAN.imputations[0]}_resid.parquet",
        diag="reports/diagnostics/residuals.json",
        influence="reports/diagnostics/influence.json",
        interactions="reports/interactions.json",
        code=codedeps.code_files(
            "mlmpipe.report.figure_files:result_figures",
            "mlmpipe.report.figure_files:save_figures",
        ),
    output:
        directory("reports/figures/results"),
    log:
        "logs/result_figures.log",
    script:
        "../scripts/result_figures.py"


rule report_docx:
    input:
        html="reports/report.html",
        code=codedeps.code_files("mlmpipe.report.export:report_to_docx"),
    output:
        "reports/report.docx",
    log:
        "logs/report_docx.log",
    script:
        "../scripts/report_docx.py"
