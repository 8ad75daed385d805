from mlmpipe import codedeps


rule fit:
    input:
        data=paths.processed_path("{imp}"),
        code=codedeps.code_files("mlmpipe.steps.models:fit_step"),
    output:
        fit=paths.fit_path("{model}", "{estimator}", "{imp}"),
        arrays=paths.arrays_path(paths.fit_path("{model}", "{estimator}", "{imp}")),
        resid=paths.resid_path("{model}", "{estimator}", "{imp}"),
    params:
        spec=lambda w: PLAN.slice_fit(w.model, w.estimator),
    log:
        "logs/fit/{model}/{estimator}/imp{imp}.log",
    script:
        "../scripts/fit.py"


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
