# The multiverse (plan section `sensitivity:`): one job per specification, whose params are the main
# steps' slices of its variant plan (plan.with_choices), so adding an option runs only the new
# specifications.
from mlmpipe import codedeps
from mlmpipe.plan.variants import influence_slice, spec_slice
from mlmpipe.sensitivity import grid as sens_grid

SENS = PLAN.sensitivity


wildcard_constraints:
    spec="|".join(SENS.ids) if SENS.ids else "(?!)",


rule sensitivity_influence:
    input:
        data=paths.CLEAN,
        code=codedeps.code_files("mlmpipe.sensitivity.steps:influence_step"),
    output:
        paths.SENS_INFLUENCE,
    params:
        spec=lambda w: influence_slice(PLAN).to_json(),
    log:
        "logs/sensitivity/influence.log",
    script:
        "../scripts/sensitivity_influence.py"


rule sensitivity_spec:
    input:
        data=paths.CLEAN,
        influence=lambda w: sens_grid.spec_inputs(PLAN, w.spec),
        datasets=lambda w: sens_grid.shared_datasets(PLAN, w.spec),
        code=codedeps.code_files("mlmpipe.sensitivity.steps:specification_step"),
    output:
        paths.spec_path("{spec}"),
    params:
        spec=lambda w: spec_slice(PLAN, w.spec).to_json(),
    log:
        "logs/sensitivity/{spec}.log",
    benchmark:
        "logs/sensitivity/{spec}.benchmark.tsv"  # wall time per specification (not an artifact)
    script:
        "../scripts/sensitivity_spec.py"


rule sensitivity_summary:
    input:
        specs=[paths.spec_path(s) for s in SENS.ids],
        code=codedeps.code_files("mlmpipe.sensitivity.steps:summary_step"),
    output:
        summary=paths.SENS_SUMMARY,
        table=paths.SENS_TABLE,
        figure=paths.SENS_FIGURE,
    params:
        spec=lambda w: SENS.summary_slice().to_json(),
    log:
        "logs/sensitivity/summary.log",
    script:
        "../scripts/sensitivity_summary.py"
