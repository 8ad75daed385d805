"""The multiverse's ``missing: delta`` option: the imputations with the imputed outcome shifted.

A ``delta`` specification imputes by the plan's multilevel imputation (the main missing step) and
then shifts the imputed outcome values by the plan's ``missing.delta.grid`` value of largest
magnitude, as the main delta analysis does (:mod:`mlmpipe.missing.delta`): by ``delta x SD(observed
outcome)`` for a continuous outcome (a pattern-mixture MNAR scenario; van Buuren 2018, sec. 3.8),
on the logit (binary), log (counts) or latent (ordinal) scale of a non-gaussian plan by coupled
redraws from the specification's own model (:mod:`mlmpipe.missing.delta_discrete`, the coupling
uniforms seeded by the plan's seed). So the multiverse shows the estimate under the most extreme
departure from MAR the plan considers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlmpipe.errors import SpecificationUnavailable
from mlmpipe.missing.delta import delta_adjust
from mlmpipe.missing.delta_discrete import prepare_shift
from mlmpipe.missing.mi_chained import FLAG


def shift_imputed_outcome(
    sets: list[pd.DataFrame],
    outcome: str,
    delta: float,
    formula: str,
    glmm: dict | None = None,
    seed: int = 0,
) -> list[pd.DataFrame]:
    """The centred imputed data sets ``sets`` with the imputed values of ``outcome`` shifted by
    ``delta`` (``formula``: the model of the discrete redraws of a non-gaussian plan)."""
    flag = FLAG.format(name=outcome)
    if flag not in sets[0].columns:
        raise SpecificationUnavailable(
            f"missing=delta: the outcome {outcome!r} has no missing values to shift"
        )
    if glmm:
        rngs = np.random.default_rng(seed).spawn(len(sets))
        return [
            prepare_shift(s, outcome, formula, glmm, r).shifted(delta)
            for s, r in zip(sets, rngs, strict=True)
        ]
    observed = ~sets[0][flag].astype(bool)
    sd = float(sets[0].loc[observed, outcome].std())
    return [delta_adjust(s, outcome, delta, sd) for s in sets]
