"""A fresh fit of a record's model on another data set (another completed data set of a multiple
imputation, or the first one for a Rubin-pooled record, which no single data set reproduces).

The same model on the data it was fitted to is never refitted: it is restored
(:func:`mlmpipe.record.restore`) or its design is evaluated (``FitRecord.design``).
"""

from __future__ import annotations

import pandas as pd

from mlmpipe.api import fit as fit_model
from mlmpipe.engine.results import LmmResult
from mlmpipe.record import FitRecord


def fit_again(rec: FitRecord, data: pd.DataFrame) -> LmmResult:
    """The model of ``rec`` (parsed formula, estimator, family, weights, residual structure,
    prior) fitted to ``data``."""
    return fit_model(rec.formula, data, reml=rec.reml, **rec.fit_options())
