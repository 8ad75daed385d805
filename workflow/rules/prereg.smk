# Preregistration: deviations of the executed plan from the frozen one (prereg/, written by
# 'mlmpipe prereg freeze') and the log of the preregistered convergence ladder of every fit.
from mlmpipe import codedeps
from mlmpipe.prereg.freeze import frozen_plan_path, freeze_record_path


rule deviations:
    input:
        frozen=lambda w: [str(p) for p in (frozen_plan_path(), freeze_record_path()) if p.exists()],
        raw=paths.raw_path(PLAN),  # its SHA-256 is compared with the frozen one
        code=codedeps.code_files("mlmpipe.prereg.diff:deviations_step"),
    output:
        paths.DEVIATIONS,
    params:
        plan=lambda w: mp.canonical_json(PLAN.to_config()),
    log:
        "logs/deviations.log",
    script:
        "../scripts/deviations.py"


rule decision_log:
    input:
        fits=[
            paths.fit_path(m, e, i)
            for m in PLAN.model_names
            for e in PLAN.estimators
            for i in PLAN.imputations
        ],
        code=codedeps.code_files(
            "mlmpipe.ladder:decision_log",
            "mlmpipe.record:load_record",
        ),
    output:
        paths.DECISIONS,
    log:
        "logs/decision_log.log",
    script:
        "../scripts/decision_log.py"
