"""Missing-data handling methods, chosen by the plan's ``missing.method``.

Each method returns a list of completed data sets (``imp0``, ``imp1``, …). ``listwise`` returns
one: the complete cases. Multiple imputation adds a method here returning ``m`` data sets; the
DAG already iterates over imputations and pools the fits (``mlmpipe.missing.pool``).
"""

from __future__ import annotations

import pandas as pd

from mlmpipe.errors import DataValidationError, PlanError
from mlmpipe.missing.diagnostics import missing_report


def listwise(df: pd.DataFrame, variables: list[str]) -> list[pd.DataFrame]:
    out = df.dropna(subset=variables).reset_index(drop=True)
    if out.empty:
        raise DataValidationError(
            f"missing.method: listwise deletion leaves no rows (variables {', '.join(variables)})"
        )
    return [out]


METHODS = {"listwise": listwise}


def handle_missing(
    df: pd.DataFrame, spec: dict, levels, outcome: str
) -> tuple[list[pd.DataFrame], dict]:
    """Apply the planned method; return the completed data sets and the missing-data report.

    ``spec`` is the plan's ``missing`` section (``method``, ``m``); ``levels`` as in
    :func:`mlmpipe.missing.missing_report`.
    """
    method = spec["method"]
    if method not in METHODS:
        raise PlanError(
            f"missing.method: {method!r} is not allowed; allowed values: {', '.join(METHODS)}"
        )
    report = missing_report(df, levels, outcome)
    datasets = METHODS[method](df, report["variables_order"])
    report["method"] = method
    report["m"] = len(datasets)
    report["rows_analysed"] = [int(len(d)) for d in datasets]
    return datasets, report
