# GLMM predictions of the final model (issue 4): only plans with a non-gaussian family have it;
# under multiple imputation the model is refitted on every completed data set and pooled.
from mlmpipe import codedeps

GLMM_PLAN = bool(PLAN.glmm_options())
PREDICTIONS = ["reports/predictions.json", "reports/figures/predictions"] if GLMM_PLAN else []


rule predictions:
    input:
        data=expand("data/processed/imp{imp}.parquet", imp=PLAN.pooled_imputations),
        fit=f"reports/fits/{PLAN.model_names[-1]}/ml/pooled.json",
        code=codedeps.code_files(
            "mlmpipe.steps:predictions_step",
            "mlmpipe.report.figure_files:save_figures",
        ),
    output:
        json="reports/predictions.json",
        figures=directory("reports/figures/predictions"),
    params:
        spec=lambda w: PLAN.slice_predictions(),
    log:
        "logs/predictions.log",
    script:
        "../scripts/predictions.py"
