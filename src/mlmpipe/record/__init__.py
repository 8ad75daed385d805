"""Fit records: the one artifact type of a fitted model and its on-disk form.

The bridges to the engine live in their own modules, so code that only reads records does not
depend on the engine's models: :func:`mlmpipe.record.capture.record_from_result` (engine result ->
record) and :func:`mlmpipe.record.restore.restore` (record + data -> engine model).
"""

from __future__ import annotations

from mlmpipe.record.family import ModelFamily
from mlmpipe.record.fitrecord import SCHEMA, FitRecord, Pooling, arrays_path, load_record
from mlmpipe.record.rows import FixedEffect, RanefBlock, Threshold, VarCorr

__all__ = [
    "SCHEMA",
    "FitRecord",
    "FixedEffect",
    "ModelFamily",
    "Pooling",
    "RanefBlock",
    "Threshold",
    "VarCorr",
    "arrays_path",
    "load_record",
]
