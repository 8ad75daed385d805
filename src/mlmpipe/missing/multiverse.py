"""Multiple imputation and delta adjustment as options of the multiverse's ``missing`` dimension.

A specification with ``missing: imputation`` imputes the raw variables its model uses by the
chained multilevel imputation of the main pipeline (:func:`mlmpipe.missing.mi_chained.
impute_multilevel`: random-intercept models with cluster means, level-2 variables at the cluster
level, the products of the model's interactions), fits the specification on every imputed data set
(after its own outlier and centering choices, so centring means are recomputed per imputation) and
pools the estimates by Rubin's rules with Barnard-Rubin degrees of freedom
(:func:`mlmpipe.sensitivity.specification.rubin`; Rubin 1987; Barnard & Rubin 1999, Biometrika
86(4)).

``missing: delta`` uses the same imputations with the imputed outcome values shifted by
``delta x SD(observed outcome)`` (a pattern-mixture MNAR scenario; van Buuren 2018, sec. 3.8;
:func:`mlmpipe.missing.delta.delta_adjust`). The shift is the plan's ``missing.delta.grid`` value
of largest magnitude, so the multiverse shows the estimate under the most extreme departure from
MAR the plan considers; a plan without a delta grid cannot run this option (the specification is
recorded as failed with that reason). In a non-gaussian plan a binary or count outcome is imputed by
predictive mean matching (:mod:`mlmpipe.missing.outcome_kind`) and the delta shift is on the logit
(binary), log (counts) or latent (ordinal) scale of the imputation model's distribution, by coupled
redraws (:mod:`mlmpipe.missing.delta_discrete`); the grid is then in those units.

Cost: each such specification is its own Snakemake job, so it imputes its own data sets (the same
ones for every specification with the same model variables: the seed is the plan's). The number of
imputations is the plan's ``missing.m`` when the plan imputes, else :data:`DEFAULT_M` (5: enough
for Rubin's rules on a focal fixed effect at a moderate fraction of missing information, RE
= 1 / (1 + FMI/m) >= 0.94 for FMI <= 0.3, while keeping a multiverse of many specifications
affordable); iterations and donors are the plan's. Measured on HSB (7,185 students, 160 schools,
10% of the outcome and of SES removed, m = 5, 20 iterations): about 8 CPU-seconds per
imputation specification against under 2 for its listwise twin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mlmpipe.errors import SpecificationUnavailable
from mlmpipe.missing.delta import delta_adjust
from mlmpipe.missing.delta_discrete import prepare_shift
from mlmpipe.missing.handle import imputation_spec
from mlmpipe.missing.mi_chained import FLAG, impute_multilevel
from mlmpipe.missing.outcome_kind import restore_outcome

if TYPE_CHECKING:
    from mlmpipe.plan import Plan

#: Imputations per specification when the plan itself does not impute.
DEFAULT_M = 5


def missing_definition(plan: Plan) -> dict:
    """What an imputation or delta specification needs of the plan (its Snakemake params)."""
    grid = [float(x) for x in plan.missing["delta"]["grid"]]
    delta = max(grid, key=abs) if grid else None
    return {
        "m": int(plan.missing["m"]) or DEFAULT_M,
        "iterations": int(plan.missing["iterations"]),
        "donors": int(plan.missing["donors"]),
        "seed": int(plan.seed),
        "levels": [[lv.name, lv.id, [p.name for p in lv.predictors]] for lv in plan.levels],
        "types": {p.name: [p.type, p.levels] for lv in plan.levels for p in lv.predictors},
        "interactions": plan.interaction_pairs(),
        "delta": delta,
        # non-gaussian plans only (gaussian definitions and their job params are unchanged)
        **({"glmm": plan.glmm_options()} if plan.glmm_options() else {}),
    }


def impute_for_model(df: pd.DataFrame, variables: list[str], spec: dict) -> list[pd.DataFrame]:
    """``spec["m"]`` imputed copies of the model's variables (``variables``: outcome, cluster ID,
    raw predictors); one data set when none of them has a missing value."""
    if spec is None:
        raise SpecificationUnavailable("missing-data imputation needs the plan's missing section")
    used = set(variables)
    ids = [lv[1] for lv in spec["levels"] if lv[1]]
    outcome = variables[0]
    if not df[list(dict.fromkeys([*ids, *variables]))].isna().any().any():
        return [df.reset_index(drop=True)]
    levels = [(n, i, [p for p in preds if p in used]) for n, i, preds in spec["levels"]]
    types = {k: tuple(v) for k, v in spec["types"].items()}
    pairs = [tuple(p) for p in spec["interactions"] if set(p) <= used]
    opts = {"m": spec["m"], "iterations": spec["iterations"], "donors": spec["donors"]}
    family = (spec.get("glmm") or {}).get("family")
    mi = imputation_spec(df, opts, levels, outcome, types, spec["seed"], pairs, family)
    sets, _ = impute_multilevel(df, mi)  # other columns are carried along unchanged
    return restore_outcome(sets, outcome, family, df[outcome].dtype)


def imputation(
    df: pd.DataFrame, variables: list[str], seed: int, spec: dict | None = None
) -> list[pd.DataFrame]:
    """The ``imputation`` option: the imputed data sets (pooled by the specification)."""
    return impute_for_model(df, variables, spec)


def delta(
    df: pd.DataFrame, variables: list[str], seed: int, spec: dict | None = None
) -> list[pd.DataFrame]:
    """The ``delta`` option: the imputations with the imputed outcome shifted by delta x SD."""
    if spec is None or spec.get("delta") is None:
        raise SpecificationUnavailable(
            "missing=delta needs missing.delta.grid in the plan (the shift is its largest |delta|)"
        )
    outcome = variables[0]
    sd = float(df[outcome].std())  # observed values only (pandas skips the missing ones)
    sets = impute_for_model(df, variables, spec)
    if FLAG.format(name=outcome) not in sets[0].columns:
        raise SpecificationUnavailable(
            f"missing=delta: the outcome {outcome!r} has no missing values to shift"
        )
    if spec.get("glmm"):  # link-scale shift of the imputation model's distribution
        return _shift_discrete(sets, variables, spec)
    return [delta_adjust(s, outcome, spec["delta"], sd) for s in sets]


def _shift_discrete(
    sets: list[pd.DataFrame], variables: list[str], spec: dict
) -> list[pd.DataFrame]:
    """A non-gaussian outcome's imputations redrawn under the shift ``spec["delta"]`` on the link
    (binary: logit; counts: log) or latent (ordinal) scale, from a random-intercept GLMM of the
    outcome on the model's raw predictors (:mod:`mlmpipe.missing.delta_discrete`)."""
    outcome, cluster, preds = variables[0], variables[1], variables[2:]
    f = f"{outcome} ~ {' + '.join(['1', *preds])} + (1 | {cluster})"
    rngs = np.random.default_rng(spec["seed"]).spawn(len(sets))
    return [
        prepare_shift(s, outcome, f, spec["glmm"], r).shifted(spec["delta"])
        for s, r in zip(sets, rngs, strict=True)
    ]
