if PLAN.data["source"] == "example":

    rule fetch_example:
        output:
            protected(mp.raw_path(PLAN)),
        params:
            spec=lambda w: PLAN.slice_fetch(),
            example=PLAN.data["example"],
        log:
            "logs/fetch_example.log",
        script:
            "../scripts/fetch_example.py"


rule validate:
    input:
        raw=mp.raw_path(PLAN),
        code=mp.library_files("data", "steps"),
    output:
        clean="data/interim/clean.parquet",
        checks="reports/checks.json",
        descriptives="reports/tables/descriptives.json",
        table="reports/tables/descriptives.csv",
    params:
        spec=lambda w: PLAN.slice_validate(),
        format=PLAN.data["format"],
    log:
        "logs/validate.log",
    script:
        "../scripts/validate.py"


rule missing:
    input:
        clean="data/interim/clean.parquet",
        code=mp.library_files(  # not pool/delta/figures: those do not rerun the imputation
            *(f"missing.{m}" for m in ("handle", "diagnostics", "mcar", "indicators")),
            *(f"missing.{m}" for m in ("mi_chained", "mi_models", "mi_methods")),
            *(f"missing.{m}" for m in ("mi_categorical", "mi_three_level")),
            "steps",
        ),
    output:
        imputed=expand("data/interim/imputed/imp{imp}.parquet", imp=PLAN.imputations),
        report="reports/missing.json",
    params:
        spec=lambda w: PLAN.slice_missing(),
        variables=lambda w: PLAN.slice_validate(),
    log:
        "logs/missing.log",
    script:
        "../scripts/missing.py"


rule centering_state:
    input:
        data="data/interim/imputed/imp0.parquet",
        code=mp.library_files("centering", "steps"),
    output:
        "reports/centering.json",
    params:
        spec=lambda w: PLAN.slice_center(),
    log:
        "logs/centering_state.log",
    script:
        "../scripts/centering_state.py"


rule centering_state_imputed:
    # missing.centering: per_imputation -- group/grand means of each imputed data set
    input:
        data="data/interim/imputed/imp{imp}.parquet",
        code=mp.library_files("centering", "steps"),
    output:
        "reports/centering/imp{imp}.json",
    params:
        spec=lambda w: PLAN.slice_center(),
    log:
        "logs/centering_state/imp{imp}.log",
    script:
        "../scripts/centering_state.py"


rule center:
    input:
        data="data/interim/imputed/imp{imp}.parquet",
        state=lambda w: mp.centering_state_path(PLAN, w.imp),
        code=mp.library_files("centering", "steps"),
    output:
        "data/processed/imp{imp}.parquet",
    log:
        "logs/center/imp{imp}.log",
    script:
        "../scripts/center.py"
