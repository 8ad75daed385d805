# Library code of each rule: the import closure of the function its script calls (codedeps).
from mlmpipe import codedeps


if PLAN.data.source == "example":

    rule fetch_example:
        output:
            protected(paths.raw_path(PLAN)),
        params:
            spec=lambda w: PLAN.slice_fetch(),
            example=PLAN.data.example,
        log:
            "logs/fetch_example.log",
        script:
            "../scripts/fetch_example.py"


rule validate:
    input:
        raw=paths.raw_path(PLAN),
        code=codedeps.code_files(
            "mlmpipe.steps.data:validate_step",
            "mlmpipe.steps.data:read_raw_step",
            "mlmpipe.steps.data:check_warnings",
            "mlmpipe.run_errors:announce",
            "mlmpipe.data.descriptives:descriptives_table",
        ),
    output:
        clean=paths.CLEAN,
        checks=paths.CHECKS,
        descriptives=paths.DESCRIPTIVES,
        table=paths.DESCRIPTIVES_TABLE,
    params:
        spec=lambda w: PLAN.slice_validate(),
        format=PLAN.data.format,
    log:
        "logs/validate.log",
    script:
        "../scripts/validate.py"


rule missing:
    input:
        clean=paths.CLEAN,
        code=codedeps.code_files("mlmpipe.steps.data:missing_step"),
    output:
        imputed=[paths.imputed_path(i) for i in PLAN.imputations],
        report=paths.MISSING_REPORT,
    params:
        spec=lambda w: PLAN.slice_missing(),
        variables=lambda w: PLAN.slice_validate(),
    log:
        "logs/missing.log",
    script:
        "../scripts/missing.py"


rule centering_state:
    input:
        data=paths.imputed_path(0),
        code=codedeps.code_files("mlmpipe.steps.data:centering_state_step"),
    output:
        paths.CENTERING,
    params:
        spec=lambda w: PLAN.slice_center(),
    log:
        "logs/centering_state.log",
    script:
        "../scripts/centering_state.py"


rule centering_state_imputed:
    # missing.centering: per_imputation -- group/grand means of each imputed data set
    input:
        data=paths.imputed_path("{imp}"),
        code=codedeps.code_files("mlmpipe.steps.data:centering_state_step"),
    output:
        paths.CENTERING_IMPUTED,
    params:
        spec=lambda w: PLAN.slice_center(),
    log:
        "logs/centering_state/imp{imp}.log",
    script:
        "../scripts/centering_state.py"


rule center:
    input:
        data=paths.imputed_path("{imp}"),
        state=lambda w: paths.centering_state_path(PLAN, w.imp),
        code=codedeps.code_files("mlmpipe.steps.data:center_step"),
    output:
        paths.processed_path("{imp}"),
    log:
        "logs/center/imp{imp}.log",
    script:
        "../scripts/center.py"
