# GLMM predictions of the final model (issue 4): only plans with a non-gaussian family have it;
# under multiple imputation the model is refitted on every completed data set and pooled.
from mlmpipe import codedeps


GLMM_PLAN = PLAN.glmm is not None
PREDICTIONS = [paths.PREDICTIONS, paths.PREDICTION_FIGURES] if GLMM_PLAN else []


rule predictions:
    input:
        data=[paths.processed_path(i) for i in PLAN.pooled_imputations],
        fit=paths.pooled_path(FINAL_MODEL, REPORT_EST),  # ML: a GLMM has no REML
        code=codedeps.code_files(
            "mlmpipe.record:load_record",
            "mlmpipe.report.figure_files:save_figures",
            "mlmpipe.steps.effects:predictions_step",
        ),
    output:
        json=paths.PREDICTIONS,
        figures=directory(paths.PREDICTION_FIGURES),
    params:
        spec=lambda w: PLAN.slice_predictions(),
    log:
        "logs/predictions.log",
    script:
        "../scripts/predictions.py"
