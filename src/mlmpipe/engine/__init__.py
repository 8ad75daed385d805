"""Estimation engine for linear mixed models: knows only arrays (see ``mlmpipe.formula.terms``)."""

from mlmpipe.engine.fit import fit_design, fit_lmm
from mlmpipe.engine.lmm import LinearMixedModel
from mlmpipe.engine.results import LmmResult

__all__ = ["LinearMixedModel", "LmmResult", "fit_design", "fit_lmm"]
