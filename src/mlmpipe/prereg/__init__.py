"""The preregistration lifecycle: freeze the plan, compare every run with it, verify reruns.

``freeze`` writes the registered plan (canonical JSON + SHA-256, raw-data hash, versions) and a
human-readable preregistration document; ``diff`` lists every key in which the executed plan differs
from the frozen one with the researcher's justification; ``verify`` reruns the pipeline from the
raw data and compares every artifact.
"""

from mlmpipe.prereg.diff import deviation_report, diff_plans, format_deviations
from mlmpipe.prereg.freeze import freeze_plan, load_frozen

__all__ = ["deviation_report", "diff_plans", "format_deviations", "freeze_plan", "load_frozen"]
