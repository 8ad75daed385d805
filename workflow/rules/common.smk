# Validate the plan once and build the Plan; everything else asks the Plan (mlmpipe.plan).
from pathlib import Path

from snakemake.utils import validate

from mlmpipe import plan as mp
from mlmpipe.errors import PlanError

SCHEMA = Path(workflow.basedir) / "config" / "schema" / "analysis.schema.yaml"

try:
    mp.validate_config(config, SCHEMA)  # one-line message naming the key and allowed values
    validate(config, str(SCHEMA))  # fills defaults
    PLAN = mp.Plan.from_config(config, SCHEMA)
except PlanError as exc:
    raise SystemExit(f"mlmpipe: invalid plan: {exc}")


wildcard_constraints:
    model="|".join(PLAN.model_names),
    estimator="|".join(PLAN.estimators),
    imp=r"\d+",
