from mlmpipe import codedeps


rule provenance:
    input:
        raw=paths.raw_path(PLAN),
        code=codedeps.code_files("mlmpipe.provenance:provenance_record"),
    output:
        paths.PROVENANCE,
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
        data=paths.processed_path(IMP0),
        fit=paths.fit_path(FINAL_MODEL, REPORT_EST, IMP0),
        fits=[paths.pooled_path(m, REPORT_EST) for m in PLAN.model_names],
        code=codedeps.code_files(
            "mlmpipe.record:load_record",
            "mlmpipe.report.figure_files:model_figures",
            "mlmpipe.report.figure_files:save_figures",
        ),
    output:
        directory(paths.MODEL_FIGURES),
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
        checks=paths.CHECKS,
        descriptives=paths.DESCRIPTIVES,
        missing=paths.MISSING_REPORT,
        missing_extra=mp_missing_inputs(PLAN),  # figures + delta analysis (mlmpipe.missing)
        centering=paths.CENTERING,
        comparison=paths.COMPARISON,
        provenance=paths.PROVENANCE,
        fits=[paths.pooled_path(m, e) for m in PLAN.model_names for e in PLAN.estimators],
        resid=[paths.resid_path(m, e, 0) for m in PLAN.model_names for e in PLAN.estimators],
        sensitivity=paths.sensitivity_targets(PLAN),  # [] when the plan has no multiverse
        effects=paths.EFFECTS,
        diag_residuals=paths.DIAG_RESIDUALS,
        influence=paths.DIAG_INFLUENCE,
        apa_descriptives="reports/tables/apa_descriptives.html",
        apa_models="reports/tables/apa_models.html",
        apa_comparison="reports/tables/apa_comparison.html",
        apa_correlations="reports/tables/apa_correlations.html",
        interactions=paths.INTERACTIONS,
        profile_ci=paths.PROFILE_CI,
        bootstrap=lambda w: [paths.BOOTSTRAP] if BOOT.resamples else [],
        predictions=PREDICTIONS,  # [json, figures dir] for GLMM plans, else [] (predictions.smk)
        result_figures=paths.RESULT_FIGURES,
        model_figures=paths.MODEL_FIGURES,
        deviations=paths.DEVIATIONS,
        decisions=paths.DECISIONS,
        reproducibility=lambda w: [p for p in [paths.REPRODUCIBILITY] if Path(p).exists()],
        code=codedeps.code_files(  # and what the notebook (an input) imports
            "mlmpipe.report.render:render_report",
            *codedeps.script_targets(Path(workflow.basedir) / "workflow/notebooks/report.ipynb"),
        ),
    output:
        html=paths.REPORT_HTML,
        notebook=paths.REPORT_NOTEBOOK,
    params:
        spec=lambda w: PLAN.slice_report(),
    log:
        "logs/report.log",
    script:
        "../scripts/report.py"
