from mlmpipe import codedeps


rule fit:
    input:
        data="data/processed/imp{imp}.parquet",
        code=codedeps.code_files("mlmpipe.steps:fit_step"),
    output:
        fit="reports/fits/{model}/{estimator}/imp{imp}.json",
        resid="reports/fits/{model}/{estimator}/imp{imp}_resid.parquet",
    params:
        spec=lambda w: PLAN.slice_fit(w.model, w.estimator),
    log:
        "logs/fit/{model}/{estimator}/imp{imp}.log",
    script:
        "../scripts/fit.py"


rule pool:
    input:
        fits=expand(
            "reports/fits/{{model}}/{{estimator}}/imp{imp}.json", imp=PLAN.pooled_imputations
        ),
        code=codedeps.code_files("mlmpipe.steps:pool_step"),
    output:
        "reports/fits/{model}/{estimator}/pooled.json",
    log:
        "logs/pool/{model}/{estimator}.log",
    script:
        "../scripts/pool.py"


rule compare:
    input:
        fits=expand(
            "reports/fits/{model}/{estimator}/pooled.json",
            model=PLAN.model_names,
            estimator=PLAN.estimators,
        ),
        code=codedeps.code_files("mlmpipe.steps:compare_step"),
    output:
        json="reports/comparison.json",
        table="reports/tables/comparison.csv",
    params:
        spec=lambda w: PLAN.slice_compare(),
    log:
        "logs/compare.log",
    script:
        "../scripts/compare.py"
