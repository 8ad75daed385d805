# Library code of each rule: the import closure of the function its script calls (codedeps).
from mlmpipe import codedeps


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
        code=codedeps.code_files(
            "mlmpipe.steps:validate_step",
            "mlmpipe.data:read_table",
            "mlmpipe.data.descriptives:descriptives_table",
        ),
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
        code=codedeps.code_files("mlmpipe.steps:missing_step"),
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
        code=codedeps.code_files("mlmpipe.steps:centering_state_step"),
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
        code=codedeps.code_files("mlmpipe.steps:centering_state_step"),
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
        code=codedeps.code_files("mlmpipe.steps:center_step"),
    output:
        "data/processed/imp{imp}.parquet",
    log:
        "logs/center/imp{imp}.log",
    script:
        "../scripts/center.py"
