"""Artifacts of the missing-data rules that ``rule all`` asks for, by plan (:mod:`mlmpipe.paths`)."""

from __future__ import annotations

from mlmpipe.paths import missing_targets

__all__ = ["missing_targets"]
