"""Missing-data handling methods, chosen by the plan's ``missing.method``.

Each method returns a list of data sets ``imp0, imp1, ...``. ``imp0`` is the observed data
after listwise deletion (so a report can set the complete-case analysis beside the pooled one;
under ``available``: every row with an observed outcome, :mod:`mlmpipe.missing.available`);
``multiple_imputation`` adds ``imp1..imp{m}`` from :func:`mlmpipe.missing.mi_chained.impute_multilevel`,
whose fits the DAG pools with Rubin's rules (:mod:`mlmpipe.missing.pool`).
"""

from __future__ import annotations

import pandas as pd

from mlmpipe.errors import DataValidationError, PlanError
from mlmpipe.missing.available import available_cases
from mlmpipe.missing.diagnostics import missing_report
from mlmpipe.missing.mi_chained import ImputationSpec, impute_multilevel
from mlmpipe.missing.outcome_kind import ordered_outcome, outcome_type, restore_outcome


def listwise(df: pd.DataFrame, variables: list[str]) -> list[pd.DataFrame]:
    out = df.dropna(subset=variables).reset_index(drop=True)
    if out.empty:
        raise DataValidationError(
            f"missing.method: listwise deletion leaves no rows (variables {', '.join(variables)})"
        )
    return [out]


def imputation_spec(
    df: pd.DataFrame,
    spec: dict,
    levels,
    outcome: str,
    types: dict,
    seed: int,
    interactions=(),
    family: str | None = None,
) -> ImputationSpec:
    """The sampler's spec from the plan's levels: two-level data (the cluster is level 2's ID) or
    three-level data (level 3's ID and variables as ``cluster3`` / ``level3``). ``missing.ordered``
    names categorical predictors whose planned levels are ordered. ``family``: a binary or count
    outcome is imputed by predictive mean matching (:mod:`mlmpipe.missing.outcome_kind`)."""
    if len(levels) not in (2, 3):
        raise PlanError(
            f"missing.method: multiple_imputation supports two- and three-level plans; this plan "
            f"has {len(levels)} levels ({', '.join(lv[0] for lv in levels)})"
        )
    ordered = tuple(spec.get("ordered") or ())
    for name in ordered:
        if name not in types or types[name][0] != "categorical":
            raise PlanError(
                f"missing.ordered: {name!r} is not a categorical predictor of the plan's levels"
            )

    def block(names):
        return {n: (types[n][0], types[n][1]) for n in names}

    level1 = {outcome: outcome_type(family)} | block(levels[0][2])
    three = len(levels) == 3
    return ImputationSpec(
        outcome=outcome,
        cluster=levels[1][1],
        cluster3=levels[2][1] if three else None,
        level3=block(levels[2][2]) if three else {},
        ordered=ordered + ordered_outcome(family, outcome),
        level1=level1,
        level2=block(levels[1][2]),
        ids=tuple(lv[1] for lv in levels if lv[1]),
        interactions=tuple(tuple(p) for p in interactions),
        m=int(spec["m"]),
        iterations=int(spec.get("iterations", 20)),
        seed=int(seed),
        donors=int(spec.get("donors", 5)),
    )


METHODS = ("listwise", "available", "multiple_imputation")


def handle_missing(
    df: pd.DataFrame,
    spec: dict,
    levels,
    outcome: str,
    types: dict | None = None,
    seed: int = 20240101,
    interactions=(),
    family: str | None = None,
) -> tuple[list[pd.DataFrame], dict]:
    """Apply the planned method; return the data sets (``imp0`` = listwise, then imputations) and
    the missing-data report.

    ``spec`` is the plan's ``missing`` section (``method``, ``m``, ``iterations``, ``donors``);
    ``levels`` as in :func:`mlmpipe.missing.missing_report`; ``types``: ``{predictor: (type,
    levels)}`` (needed by multiple imputation); ``interactions``: raw variable pairs whose products
    enter the analysis models; ``family``: the plan's (a binary or count outcome is imputed by
    predictive mean matching, :mod:`mlmpipe.missing.outcome_kind`).
    """
    method = spec["method"]
    if method not in METHODS:
        raise PlanError(
            f"missing.method: {method!r} is not allowed; allowed values: {', '.join(METHODS)}"
        )
    report = missing_report(df, levels, outcome)
    datasets = listwise(df, report["variables_order"])
    report["method"] = method
    report["m"] = 0
    if method == "available":  # every row with an observed outcome (mlmpipe.missing.available)
        datasets, report["available"] = available_cases(df, levels, outcome)
    if method == "multiple_imputation":
        if types is None:
            raise PlanError("missing.method: multiple_imputation needs the predictor types")
        mi_spec = imputation_spec(df, spec, levels, outcome, types, seed, interactions, family)
        imputed, info = impute_multilevel(df, mi_spec)
        datasets += restore_outcome(imputed, outcome, family, df[outcome].dtype)
        report["m"] = len(imputed)
        report["imputation"] = info
    report["rows_analysed"] = [int(len(d)) for d in datasets]
    return datasets, report
