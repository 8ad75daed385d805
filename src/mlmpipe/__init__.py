"""mlmpipe: reproducible analysis pipelines for multilevel (mixed-effects) models.

The public API:

* :func:`fit` -- fit one model in lme4 syntax (LMM, GLMM, cumulative-link), returning the engine's
  result; :func:`record_from_result` turns it into the stored artifact type;
* :class:`Plan` and :func:`load_plan` -- the validated analysis plan (``config/analysis.yaml``);
* :func:`run_plan` -- a whole plan in-process (no Snakemake), returning its fit records and results;
* :class:`FitRecord` and :func:`restore` -- a fitted model as stored, and its model back on the data.

The names load on first use (PEP 562), so importing one library module does not import them all
(and a rule's derived code dependencies, :mod:`mlmpipe.codedeps`, stay its own).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_PUBLIC = {
    "fit": "mlmpipe.api",
    "Plan": "mlmpipe.plan",
    "load_plan": "mlmpipe.plan",
    "FitRecord": "mlmpipe.record",
    "record_from_result": "mlmpipe.record.capture",
    "restore": "mlmpipe.record.restore",
    "PlanRun": "mlmpipe.runner",
    "run_plan": "mlmpipe.runner",
}
__all__ = [
    "FitRecord",
    "Plan",
    "PlanRun",
    "fit",
    "load_plan",
    "record_from_result",
    "restore",
    "run_plan",
]

if TYPE_CHECKING:
    from mlmpipe.api import fit
    from mlmpipe.plan import Plan, load_plan
    from mlmpipe.record import FitRecord
    from mlmpipe.record.capture import record_from_result
    from mlmpipe.record.restore import restore
    from mlmpipe.runner import PlanRun, run_plan


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'mlmpipe' has no attribute {name!r}")
    value = getattr(import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
