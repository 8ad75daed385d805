from mlmpipe import codedeps


rule provenance:
    input:
        raw=mp.raw_path(PLAN),
        code=codedeps.code_files("mlmpipe.provenance:provenance_record"),
    output:
        "reports/provenance.json",
    params:
        plan_hash=PLAN.hash,
        seed=PLAN.seed,
        backend=PLAN.backend,
    log:
        "logs/provenance.log",
    script:
        "../scripts/provenance.py"


rule model_figures:
    input:
        data=f"data/processed/imp{PLAN.imputations[0]}.parquet",
        fit=f"reports/fits/{FINAL_MODEL}/{EFFECTS_EST}/imp{PLAN.imputations[0]}.json",
        fits=expand(
            "reports/fits/{model}/{estimator}/pooled.json",
            model=PLAN.model_names,
            estimator=EFFECTS_EST,
        ),
        code=codedeps.code_files(
            "mlmpipe.report.figure_files:model_figures",
            "mlmpipe.report.figure_files:save_figures",
        ),
    output:
        directory("reports/figures/model"),
    params:
        spec=lambda w: PLAN.slice_report(),
        seed=PLAN.seed,
    log:
        "logs/model_figures.log",
    script:
        "../scripts/model_figures.py"


rule report:
    input:
        notebook="workflow/notebooks/report.ipynb",
        checks="reports/checks.json",
        descriptives="reports/tables/descriptives.json",
        missing="reports/missing.json",
        missing_extra=mp_missing_inputs(PLAN),  # figures + delta analysis (mlmpipe.missing)
        centering="reports/centering.json",
        comparison="reports/comparison.json",
        provenance="reports/provenance.json",
        fits=expand(
            "reports/fits/{model}/{estimator}/pooled.json",
            model=PLAN.model_names,
            estimator=PLAN.estimators,
        ),
        resid=expand(
            "reports/fits/{model}/{estimator}/imp0_resid.parquet",
            model=PLAN.model_names,
            estimator=PLAN.estimators,
        ),
        sensitivity=sens_grid.sensitivity_targets(PLAN),  # [] when the plan has no multiverse
        effects="reports/effects.json",
        diag_residuals="reports/diagnostics/residuals.json",
        influence="reports/diagnostics/influence.json",
        apa_models="reports/tables/apa_models.html",
        apa_comparison="reports/tables/apa_comparison.html",
        apa_correlations="reports/tables/apa_correlations.html",
        interactions="reports/interactions.json",
        profile_ci="reports/profile_ci.json",
        bootstrap=lambda w: ["reports/bootstrap.json"] if BOOT["resamples"] else [],
        predictions=PREDICTIONS,  # [json, figures dir] for GLMM plans, else [] (predictions.smk)
        result_figures="reports/figures/results",
        model_figures="reports/figures/model",
        deviations="reports/deviations.json",
        decisions="reports/decisions.json",
        reproducibility=lambda w: [p for p in ["reports/reproducibility.json"] if Path(p).exists()],
        code=codedeps.code_files(  # and what the notebook (an input) imports
            "mlmpipe.report.render:render_report",
            *codedeps.script_targets(Path(workflow.basedir) / "workflow/notebooks/report.ipynb"),
        ),
    output:
        html="reports/report.html",
        notebook="reports/report.ipynb",
    params:
        spec=lambda w: PLAN.slice_report(),
    log:
        "logs/report.log",
    script:
        "../scripts/report.py"
