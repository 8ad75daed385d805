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
        data=paths.CLEAN,
        code=SENS_CODE + mp.library_files("sensitivity.influence"),
        # a GLMM plan's cluster influence comes from the GLMM refits of mlmpipe.diagnostics
        glmm_code=mp.library_files("diagnostics.influence", "diagnostics.glmm_influence")
        if PLAN.glmm_options()
        else [],
    output:
        paths.SENS_INFLUENCE,
    params:
        spec=lambda w: SENS.influence_slice().to_json(),
    log:
        "logs/sensitivity/influence.log",
    script:
        "../scripts/sensitivity_influence.py"


rule sensitivity_spec:
    input:
        data=paths.CLEAN,
        influence=lambda w: sens_grid.spec_inputs(PLAN, w.spec),
        code=SENS_CODE,
        missing_code=lambda w: sens_grid.spec_code(PLAN, w.spec),  # imputation/delta specs only
    output:
        paths.spec_path("{spec}"),
    params:
        spec=lambda w: SENS.spec_slice(w.spec).to_json(),
    log:
        "logs/sensitivity/{spec}.log",
    benchmark:
        "logs/sensitivity/{spec}.benchmark.tsv"  # wall time per specification (not an artifact)
    script:
        "../scripts/sensitivity_spec.py"


rule sensitivity_summary:
    input:
        specs=[paths.spec_path(s) for s in SENS.ids],
        code=mp.library_files(
            "sensitivity.summary", "sensitivity.figures", "sensitivity.steps", "report.figures"
        ),
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
