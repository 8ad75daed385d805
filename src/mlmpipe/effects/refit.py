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


def fit_options(rec: FitRecord) -> dict[str, object]:
    """Keyword arguments of :func:`mlmpipe.fit` for the record's family: none for a gaussian fit,
    else family, link and the quadrature nodes (nAGQ = 0 kept; 1, the Laplace approximation, when
    the record does not say)."""
    fam = rec.family
    if fam.is_gaussian:
        return {}
    return {"family": fam.name, "link": fam.link, "nagq": 1 if fam.nagq is None else fam.nagq}


def fit_again(rec: FitRecord, data: pd.DataFrame) -> LmmResult:
    """The model of ``rec`` (parsed formula, estimator, family) fitted to ``data``."""
    return fit_model(rec.formula, data, reml=rec.reml, **fit_options(rec))
