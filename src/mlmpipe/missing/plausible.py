"""The data sets of a plan with plausible values: one per PV (listwise) or ``m`` per PV (multiple
imputation nested in each PV; Rubin 2003).

For plausible value ``k`` the analysed column of each PV variable receives its k-th column, and
the planned missing-data method runs on that copy, so the covariates are imputed conditional on
that PV (the nested design whose fits :mod:`mlmpipe.missing.nested` combines). The data sets are
``[observed (PV 1)] + PV 1's + PV 2's + ...``: data set ``(k - 1) m + j`` is imputation ``j`` of
PV ``k`` (``m = 1`` without imputation), as :attr:`mlmpipe.plan.Plan.imputations` numbers them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pandas as pd

#: seed offset of plausible value k: its imputations use ``seed + SEED_STRIDE * (k - 1)``
SEED_STRIDE = 7919


def plausible_value_data_sets(
    clean: pd.DataFrame,
    columns: Sequence[Mapping[str, str]],
    seed: int,
    handle: Callable[[pd.DataFrame, int], tuple[list[pd.DataFrame], dict]],
) -> tuple[list[pd.DataFrame], dict]:
    """Run ``handle`` (the planned missing-data method: data frame, seed -> data sets, report) on
    each plausible value's copy of ``clean``; ``columns[k-1]`` maps analysed column -> column of
    PV ``k``. Returns the data sets in the plan's numbering and PV 1's report with
    ``plausible_values`` (their number) and ``rows_analysed`` of every data set."""
    out: list[pd.DataFrame] = []
    report: dict = {}
    for k, mapping in enumerate(columns, start=1):
        df = clean.copy()
        for target, source in mapping.items():
            df[target] = df[source]
        datasets, rep = handle(df, seed + SEED_STRIDE * (k - 1))
        if k == 1:
            report = rep
            out.append(datasets[0])  # the observed data set (complete cases, PV 1)
        out.extend(datasets[1:] if rep.get("m") else datasets[:1])
    report["plausible_values"] = len(columns)
    report["rows_analysed"] = [int(len(d)) for d in out]
    return out, report
