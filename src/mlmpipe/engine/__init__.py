"""Estimation engine for linear and generalized linear mixed models: knows only arrays (see
``mlmpipe.formula.terms``). Import the modules themselves (``mlmpipe.engine.fit``,
``mlmpipe.engine.lmm``, ...): this file imports nothing, so using one engine module does not make
code depend on all of them."""
