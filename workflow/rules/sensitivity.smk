# The multiverse (plan section `sensitivity:`): one job per specification, each with only its own
# definition as params, so adding an option runs only the new specifications.
from mlmpipe import codedeps
from mlmpipe.sensitivity import grid as sens_grid

SENS = PLAN.sensitivity


wildcard_constraints:
    spec="|".join(SENS.ids) if SENS.ids else "(?!)",


rule sensitivity_influence:
    input:
        data="data/interim/clean.parquet",
        code=codedeps.code_files("mlmpipe.sensitivity.steps:influence_step"),
    output:
        "reports/sensitivity/influence.json",
    params:
        spec=lambda w: mp.canonical_json(SENS.influence_definition()),
    log:
        "logs/sensitivity/influence.log",
    script:
        "../scripts/sensitivity_influence.py"


rule sensitivity_spec:
    input:
        data="data/interim/clean.parquet",
        influence=lambda w: sens_grid.spec_inputs(PLAN, w.spec),
        code=codedeps.code_files("mlmpipe.sensitivity.steps:specification_step"),
    output:
        "reports/sensitivity/specs/{spec}.json",
    params:
        spec=lambda w: mp.canonical_json(SENS.definition(w.spec)),
    log:
        "logs/sensitivity/{spec}.log",
    benchmark:
        "logs/sensitivity/{spec}.benchmark.tsv"  # wall time per specification (not an artifact)
    script:
        "../scripts/sensitivity_spec.py"


rule sensitivity_summary:
    input:
        specs=expand("reports/sensitivity/specs/{spec}.json", spec=SENS.ids),
        code=codedeps.code_files("mlmpipe.sensitivity.steps:summary_step"),
    output:
        summary="reports/sensitivity/summary.json",
        table="reports/tables/sensitivity.csv",
        figure="reports/figures/specification_curve.png",
    params:
        spec=lambda w: mp.canonical_json(SENS.summary_definition()),
    log:
        "logs/sensitivity/summary.log",
    script:
        "../scripts/sensitivity_summary.py"
