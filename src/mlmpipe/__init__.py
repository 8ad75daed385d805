"""mlmpipe: reproducible analysis pipelines for multilevel (mixed-effects) models.

The public API:

* :func:`fit` -- fit one model in lme4 syntax (LMM, GLMM, cumulative-link), returning the engine's
  result; ``FitRecord.from_result`` turns it into the stored artifact type;
* :class:`Plan` and :func:`load_plan` -- the validated analysis plan (``config/analysis.yaml``);
* :func:`run_plan` -- a whole plan in-process (no Snakemake), returning its fit records and results;
* :class:`FitRecord` and :func:`restore` -- a fitted model as stored, and its model back on the data.
"""

from __future__ import annotations

from mlmpipe.api import fit
from mlmpipe.plan import Plan, load_plan
from mlmpipe.record import FitRecord, restore
from mlmpipe.runner import PlanRun, run_plan

__all__ = ["FitRecord", "Plan", "PlanRun", "fit", "load_plan", "restore", "run_plan"]
__version__ = "0.1.0"
