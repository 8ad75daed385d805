"""mlmpipe: reproducible analysis pipelines for multilevel (mixed-effects) models."""

from __future__ import annotations

from mlmpipe.api import fit

__all__ = ["fit"]
__version__ = "0.1.0"
