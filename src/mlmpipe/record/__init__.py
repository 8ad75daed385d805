"""Fit records: the one artifact type of a fitted model, its on-disk form, and ``restore``."""

from __future__ import annotations

from mlmpipe.record.family import ModelFamily
from mlmpipe.record.fitrecord import SCHEMA, FitRecord, Pooling, arrays_path, load_record
from mlmpipe.record.restore import restore
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
    "restore",
]
