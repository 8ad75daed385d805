"""Which imputation model a variable gets, by its type and level (the table the report shows).

=========================  ==============================  ====================================
variable                   two-level data                  three-level data
=========================  ==============================  ====================================
continuous, level 1        ``2l.norm`` (random intercept)  ``3l.norm`` (intercepts at 2 and 3)
binary / 2 categories      the same + predictive mean      the same + predictive mean matching
                           matching
> 2 categories, level 1    ``2l.probit.ordered`` or        ``3l.probit.*`` (latent normal,
                           ``.multinomial`` (latent        intercepts at levels 2 and 3)
                           normal, random intercept)
level-2 variable           ``2lonly.*`` (cluster level,    ``2l.*`` at level 2 (random intercept
                           no random effect)               for level 3)
level-3 variable           —                               ``3lonly.*`` (school level)
=========================  ==============================  ====================================

Continuous models: :mod:`~mlmpipe.missing.mi_models` (two levels) and
:mod:`~mlmpipe.missing.mi_three_level` (nested intercepts); categorical: :mod:`~mlmpipe.missing.mi_categorical`.
"""

from __future__ import annotations

from mlmpipe.missing.mi_categorical import init_categorical
from mlmpipe.missing.mi_models import init_state
from mlmpipe.missing.mi_three_level import init_ml_state


def is_multicat(v) -> bool:
    """A categorical variable with more than two categories (latent-normal model)."""
    return v.kind == "categorical" and len(v.categories) > 2


def new_state(v, H):
    """Sampler state of ``v``'s model: latent-normal (categorical), two-level or nested."""
    n_units = [H.sizes[h - 1] for h in range(v.level + 1, H.L + 1)]
    if is_multicat(v):
        return init_categorical(v.values, v.obs, len(v.categories), v.ordered, n_units)
    if len(n_units) == 1:
        return init_state(v.values[v.obs], n_units[0])
    return init_ml_state(v.values[v.obs], n_units)


def model_name(v, L: int) -> str:
    """The name of ``v``'s imputation model in the report (mice-style method names)."""
    kind = "norm"
    if is_multicat(v):
        kind = (
            "probit.ordered (latent normal)" if v.ordered else "probit.multinomial (latent normal)"
        )
    name = {
        (2, 1): f"2l.{kind} (random intercept)",
        (2, 2): f"2lonly.{kind} (cluster level)",
        (3, 1): f"3l.{kind} (random intercepts at levels 2 and 3)",
        (3, 2): f"2l.{kind} at level 2 (random intercept at level 3)",
        (3, 3): f"3lonly.{kind} (level-3 units)",
    }[(L, v.level)]
    return name + (
        " + predictive mean matching" if v.kind != "continuous" and not is_multicat(v) else ""
    )
