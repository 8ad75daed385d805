"""lme4 formula syntax → model matrices (``Design``) for the estimation engine.

``parse_formula`` parses once into an immutable ``FormulaSpec``; ``build_design`` evaluates it on a
data frame (R's ``model.frame`` + ``model.matrix`` + lme4's ``mkReTrms`` data step);
``new_data_matrices`` re-applies the learned levels, contrasts and transforms to new data.
Changes of a model are operations on the spec (``mlmpipe.formula.edit``); ``render`` prints a spec
as lme4 syntax.
"""

from __future__ import annotations

from mlmpipe.formula.algebra import TermSpec
from mlmpipe.formula.design import FittedFormula, build_design, new_data_matrices
from mlmpipe.formula.random import lme4_term_order
from mlmpipe.formula.render import render
from mlmpipe.formula.spec import Addend, Bar, FormulaSpec, RandomSpec, parse_formula
from mlmpipe.formula.terms import Design, ReTerm

__all__ = [
    "Addend",
    "Bar",
    "Design",
    "FittedFormula",
    "FormulaSpec",
    "RandomSpec",
    "ReTerm",
    "TermSpec",
    "build_design",
    "lme4_term_order",
    "new_data_matrices",
    "parse_formula",
    "render",
]
