# Build the Plan once: Plan.from_config validates the config (schema + defaults, one place) and
# everything else asks the Plan (mlmpipe.plan) or the artifact paths (mlmpipe.paths).
from pathlib import Path

from mlmpipe import paths
from mlmpipe import plan as mp
from mlmpipe.errors import PlanError

SCHEMA = Path(workflow.basedir) / "config" / "schema" / "analysis.schema.yaml"

try:
    PLAN = mp.Plan.from_config(config, SCHEMA)  # one-line message naming the key and allowed values
except PlanError as exc:
    raise SystemExit(f"mlmpipe: invalid plan: {exc}")

REPORT_EST = PLAN.reporting_estimator  # REML when planned, else ML
FINAL_MODEL = PLAN.final_model
IMP0 = PLAN.imputations[0]


wildcard_constraints:
    model="|".join(PLAN.model_names),
    estimator="|".join(PLAN.estimators),
    imp=r"\d+",
