# Preregistration: deviations of the executed plan from the frozen one (prereg/, written by
# 'mlmpipe prereg freeze') and the log of the preregistered convergence ladder of every fit.
from mlmpipe import codedeps
from mlmpipe.prereg.freeze import frozen_plan_path, freeze_record_path


rule deviations:
    input:
        frozen=lambda w: [str(p) for p in (frozen_plan_path(), freeze_record_path()) if p.exists()],
        code=codedeps.code_files("mlmpipe.prereg.diff:deviations_step"),
    output:
        "reports/deviations.json",
    params:
        plan=lambda w: mp.canonical_json(PLAN.config),
    log:
        "logs/deviations.log",
    script:
        "../scripts/deviations.py"


rule decision_log:
    input:
        fits=expand(
            "reports/fits/{model}/{estimator}/imp{imp}.json",
            model=PLAN.model_names,
            estimator=PLAN.estimators,
            imp=PLAN.imputations,
        ),
        code=codedeps.code_files("mlmpipe.ladder:decision_log"),
    output:
        "reports/decisions.json",
    log:
        "logs/decision_log.log",
    script:
        "../scripts/decision_log.py"
