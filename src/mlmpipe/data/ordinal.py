"""Is a planned ordinal outcome one? (the ``outcome_ordinal`` check of the validate step)

An ordinal outcome in a plan is a numeric column whose sorted distinct values are the ordered
categories (a CSV file keeps no ordered factor, so the order is the numeric one; text labels are
refused by the ``outcome_numeric`` check). The cumulative link model
``P(Y <= j) = F(alpha_j - x'beta - b)`` (McCullagh 1980, JRSS B 42(2); Agresti 2010, *Analysis of
Ordinal Categorical Data*, ch. 3 and 10) has one threshold per pair of adjacent categories, so an
outcome with very many distinct values (a continuous score) is not taken for an ordinal one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: More distinct values than this and a planned ordinal outcome is taken for a continuous one.
MAX_ORDINAL_CATEGORIES = 30


def ordinal_outcome_problem(values: pd.Series, name: str) -> str | None:
    """Why the numeric column ``values`` cannot be a planned ordinal outcome (None if it can):
    fewer than two observed categories, or more than ``MAX_ORDINAL_CATEGORIES`` distinct values."""
    v = pd.to_numeric(values, errors="coerce").dropna().to_numpy(float)
    cats = np.unique(v)
    if cats.size < 2:
        return (
            f"outcome.name: ordinal outcome {name!r} needs at least two observed categories, "
            f"found {cats.tolist()}"
        )
    if cats.size > MAX_ORDINAL_CATEGORIES:
        return (
            f"outcome.name: ordinal outcome {name!r} has {cats.size} distinct values (e.g. "
            f"{', '.join(f'{c:g}' for c in cats[:4])}, ...); a cumulative-link model estimates one "
            f"threshold per pair of adjacent categories, at most {MAX_ORDINAL_CATEGORIES} "
            "categories are accepted: recode the outcome or plan family gaussian"
        )
    return None
