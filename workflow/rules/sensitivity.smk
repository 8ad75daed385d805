# The multiverse (plan section `sensitivity:`): one job per specification, each with only its own
# definition as params, so adding an option runs only the new specifications.
from mlmpipe.sensitivity import grid as sens_grid

SENS = PLAN.sensitivity
# Library code each rule depends on (an edit to the summary does not rerun the specifications).
SENS_CODE = mp.library_files(
    "sensitivity.specification",
    "sensitivity.alternatives",
    "sensitivity.steps",
    "centering",
    "api",
    "formula",
    "engine",
    "inference",
    "ladder",
) + (  # GLMM specs and the family's GLM/GEE (for gaussian plans it only says every choice applies)
    mp.library_files("sensitivity.families") if PLAN.glmm_options() else []
)


wildcard_constraints:
    spec="|".join(SENS.ids) if SENS.ids else "(?!)",


rule sensitivity_influence:
    input:
        data="data/interim/clean.parquet",
        code=SENS_CODE + mp.library_files("sensitivity.influence"),
        # a GLMM plan's cluster influence comes from the GLMM refits of mlmpipe.diagnostics
        glmm_code=mp.library_files("diagnostics.influence", "diagnostics.glmm_influence")
        if PLAN.glmm_options()
        else [],
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
        code=SENS_CODE,
        missing_code=lambda w: sens_grid.spec_code(PLAN, w.spec),  # imputation/delta specs only
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
        code=mp.library_files(
            "sensitivity.summary", "sensitivity.figures", "sensitivity.steps", "report.figures"
        ),
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
