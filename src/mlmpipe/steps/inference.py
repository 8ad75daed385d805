"""Inference steps: profile-likelihood intervals and the parametric bootstrap (the rules
``profile_ci``, ``bootstrap_batch``, ``bootstrap``)."""

from __future__ import annotations

import pandas as pd

from mlmpipe.inference.bootstrap import bootstrap_batch, percentile_intervals
from mlmpipe.inference.profile import profile_sequence
from mlmpipe.plan.slices import BootstrapBatchSlice, CompareSlice
from mlmpipe.record import FitRecord
from mlmpipe.steps.models import sequence_fits


def profile_step(data: pd.DataFrame, fits: list[FitRecord], cspec: str | dict) -> dict:
    """Profile-likelihood intervals (level 1 - alpha) of every variance parameter (SDs,
    correlations, sigma) of each model of the sequence."""
    cspec = CompareSlice.decode(cspec)
    names, by_model = sequence_fits(fits, cspec)
    return profile_sequence(names, by_model, data, level=1.0 - cspec.alpha)


def batch_sizes(resamples: int, batches: int) -> list[int]:
    """Split ``resamples`` over ``batches`` as evenly as possible (earlier batches get the rest)."""
    base, rest = divmod(int(resamples), int(batches))
    return [base + (k < rest) for k in range(int(batches))]


def bootstrap_batch_step(data: pd.DataFrame, fit: FitRecord, bspec: str | dict) -> dict:
    """One batch of the parametric bootstrap (``bspec``: seed, batch, resamples, batches)."""
    bspec = BootstrapBatchSlice.decode(bspec)
    n = batch_sizes(bspec.resamples, bspec.batches)[bspec.batch]
    return bootstrap_batch(fit, data, n, bspec.seed, bspec.batch)


def bootstrap_step(batches: list[dict], fit: FitRecord, cspec: str | dict) -> dict:
    """Percentile intervals (level 1 - alpha) from the pooled bootstrap batches."""
    return percentile_intervals(batches, fit, level=1.0 - CompareSlice.decode(cspec).alpha)
