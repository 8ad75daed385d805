"""How the outcome of a non-gaussian plan is imputed: with values in the outcome's support.

The chained imputation (:mod:`mlmpipe.missing.mi_chained`) draws a continuous outcome from its
normal multilevel model. A binary (``binomial``) or count (``poisson``, ``negbin``) outcome imputed
that way gets values outside its support (0.4, -1.3), which the GLMM of the analysis then rejects.
Such outcomes are imputed by predictive mean matching instead (the sampler's ``binary`` kind: the
linear multilevel model of the outcome codes gives predicted means, and each missing value is taken
from one of the ``donors`` observed cases with the nearest predicted means; Little 1988, J. Bus.
Econ. Stat. 6(3); van Buuren 2018, sec. 3.4 -- mice's default for such variables). For counts the
codes are the ranks of the observed distinct counts, so the matching is on the predicted rank and
the donors' counts are imputed; as a predictor of the other variables the outcome enters by these
codes. After imputation the outcome is restored to its numeric values (:func:`restore_outcome`).

An ordinal outcome is imputed as an ordered categorical variable (the sampler's random-intercept
cumulative probit, :mod:`mlmpipe.missing.mi_categorical`), whatever its storage (an ordered
Categorical, or numeric scores such as 2, 4, ..., 10, which get their numbers back afterwards).

Gaussian plans keep the continuous model: their imputations are unchanged.
"""

from __future__ import annotations

import pandas as pd

#: Families whose outcome is imputed by predictive mean matching on observed values.
PMM_FAMILIES = ("binomial", "poisson", "negbin")


def outcome_type(family: str | None) -> tuple[str, None]:
    """The sampler's kind for the outcome of a plan of ``family`` (categories from the data)."""
    if family == "ordinal":
        return ("categorical", None)
    return ("binary", None) if family in PMM_FAMILIES else ("continuous", None)


def ordered_outcome(family: str | None, outcome: str) -> tuple[str, ...]:
    """The outcome's name when its categories are ordered (an ordinal plan), for the sampler."""
    return (outcome,) if family == "ordinal" else ()


def restore_outcome(
    datasets: list[pd.DataFrame], outcome: str, family: str | None, dtype=None
) -> list[pd.DataFrame]:
    """Imputed data sets with a PMM-imputed outcome turned back into numbers (the sampler returns
    the categories it matched on as a categorical column); so is a numeric ordinal outcome
    (``dtype``: the outcome's dtype before imputation; an ordered Categorical stays one)."""
    numeric_ordinal = (
        family == "ordinal" and dtype is not None and not isinstance(dtype, pd.CategoricalDtype)
    )
    if family not in PMM_FAMILIES and not numeric_ordinal:
        return datasets
    out = []
    for d in datasets:
        if isinstance(d[outcome].dtype, pd.CategoricalDtype):
            d = d.copy()
            d[outcome] = pd.to_numeric(d[outcome].astype(object)).astype(float)
        out.append(d)
    return out
