rule fit:
    input:
        data="data/processed/imp{imp}.parquet",
        code=mp.library_files(
            "api", "formula", "engine", "backends", "ladder", "steps",
            "inference.satterthwaite", "inference.numderiv", "inference.kenward_roger",
            "diagnostics.response",
        ),
    output:
        fit="reports/fits/{model}/{estimator}/imp{imp}.json",
        arrays="reports/fits/{model}/{estimator}/imp{imp}.npz",
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
        code=mp.library_files("missing", "steps"),
    output:
        fit="reports/fits/{model}/{estimator}/pooled.json",
        arrays="reports/fits/{model}/{estimator}/pooled.npz",
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
        code=mp.library_files("compare", "effects", "steps"),
    output:
        json="reports/comparison.json",
        table="reports/tables/comparison.csv",
    params:
        spec=lambda w: PLAN.slice_compare(),
    log:
        "logs/compare.log",
    script:
        "../scripts/compare.py"
