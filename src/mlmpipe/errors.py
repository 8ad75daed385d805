"""One exception and warning hierarchy for mlmpipe.

Every error message is one line that names the problem and the culprit (plan key, column, IDs).
"""

from __future__ import annotations


class MlmpipeError(Exception):
    """Base class of every error mlmpipe raises on purpose."""


class PlanError(MlmpipeError):
    """The analysis plan is invalid (names the plan key and the allowed values)."""


class DataValidationError(MlmpipeError):
    """The data do not satisfy a structural check (names the column and offending IDs/rows)."""


class FormulaError(MlmpipeError):
    """A model formula cannot be parsed or names an unknown column."""


class EstimationError(MlmpipeError):
    """A model cannot be estimated (e.g. more random effects than observations)."""


class SpecificationUnavailable(MlmpipeError):
    """A multiverse specification asks for something that cannot be estimated (the reason is
    recorded in its artifact; the other specifications go on)."""


class MlmpipeWarning(UserWarning):
    """Base class of mlmpipe warnings."""


class ConvergenceWarning(MlmpipeWarning):
    """The optimizer stopped without meeting the convergence checks."""


class SingularFitWarning(MlmpipeWarning):
    """A variance-covariance estimate lies on the boundary (theta at a bound)."""


class RankDeficiencyWarning(MlmpipeWarning):
    """Fixed-effects columns were dropped because the model matrix is rank deficient."""


class DataCheckWarning(MlmpipeWarning):
    """A data check whose action level is ``warn`` found something (see reports/checks.json)."""
