from mlmpipe import codedeps


rule fit:
    # One job per model and estimator over the pooled data sets, so that every imputation is
    # fitted with the same random structure (mlmpipe.steps.models.fit_imputations).
    input:
        data=[paths.processed_path(i) for i in PLAN.pooled_imputations],
        code=codedeps.code_files(
            "mlmpipe.steps.models:fit_imputations",
            "mlmpipe.ladder:unresolved_message",
            "mlmpipe.run_errors:announce",
        ),
    output:
        fit=[paths.fit_path("{model}", "{estimator}", i) for i in PLAN.pooled_imputations],
        arrays=[
            paths.arrays_path(paths.fit_path("{model}", "{estimator}", i))
            for i in PLAN.pooled_imputations
        ],
        resid=[paths.resid_path("{model}", "{estimator}", i) for i in PLAN.pooled_imputations],
    params:
        spec=lambda w: PLAN.slice_fit(w.model, w.estimator),
    log:
        "logs/fit/{model}/{estimator}/fit.log",
    script:
        "../scripts/fit.py"


if IMP0 not in PLAN.pooled_imputations:

    rule fit_observed:
        # the observed (complete-case) data set of an imputing plan, read by the diagnostics
        input:
            data=paths.processed_path(IMP0),
            code=codedeps.code_files("mlmpipe.steps.models:fit_step"),
        output:
            fit=paths.fit_path("{model}", "{estimator}", IMP0),
            arrays=paths.arrays_path(paths.fit_path("{model}", "{estimator}", IMP0)),
            resid=paths.resid_path("{model}", "{estimator}", IMP0),
        params:
            spec=lambda w: PLAN.slice_fit(w.model, w.estimator),
        log:
            f"logs/fit/{{model}}/{{estimator}}/imp{IMP0}.log",
        script:
            "../scripts/fit_observed.py"


rule pool:
    input:
        fits=[paths.fit_path("{model}", "{estimator}", i) for i in PLAN.pooled_imputations],
        code=codedeps.code_files(
            "mlmpipe.record:load_record",
            "mlmpipe.steps.models:pool_step",
        ),
    output:
        fit=paths.pooled_path("{model}", "{estimator}"),
        arrays=paths.arrays_path(paths.pooled_path("{model}", "{estimator}")),
    log:
        "logs/pool/{model}/{estimator}.log",
    script:
        "../scripts/pool.py"


rule compare:
    input:
        fits=[paths.pooled_path(m, e) for m in PLAN.model_names for e in PLAN.estimators],
        code=codedeps.code_files(
            "mlmpipe.record:load_record",
            "mlmpipe.steps.models:compare_step",
        ),
    output:
        json=paths.COMPARISON,
        table=paths.COMPARISON_TABLE,
    params:
        spec=lambda w: PLAN.slice_compare(),
    log:
        "logs/compare.log",
    script:
        "../scripts/compare.py"
