"""Effect-size summaries of fitted models: intraclass correlations and variance shares.

The quantities themselves are methods of the fit record (``FitRecord.variance_components`` and
``FitRecord.intraclass_correlations``); the two functions here delegate to them for the modules
that import them by these names.
"""

from __future__ import annotations

from mlmpipe.record import FitRecord


def variance_components(rec: FitRecord) -> dict[str, float]:
    """``{group: intercept variance, ..., "Residual": sigma^2}`` (the latent-scale level-1 variance
    for a non-gaussian fit): :meth:`FitRecord.variance_components`."""
    return rec.variance_components()


def icc(rec: FitRecord) -> dict[str, float]:
    """Intraclass correlation per grouping factor (meaningful for the null model):
    :meth:`FitRecord.intraclass_correlations`."""
    return rec.intraclass_correlations()
