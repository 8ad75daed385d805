"""The ``available`` missing-data method: maximum likelihood on all available rows.

A mixed model's likelihood is defined for every row whose outcome and model variables are
observed; rows with a missing outcome contribute nothing to it. Under MAR given the model's
predictors, maximum likelihood on those rows is valid (Little & Rubin 2019, Statistical Analysis
with Missing Data, 3rd ed., sec. 6.2 and 11.2; the ignorability of the missingness mechanism for
likelihood inference, Rubin 1976, Biometrika 63(3)). So the analysis data set keeps every row with
an observed outcome (and observed cluster IDs), instead of every row complete on *all* analysis
variables as listwise deletion does.

Rows with a missing predictor still cannot enter a model that uses that predictor: each model
drops the rows missing one of *its own* variables (the formula engine's row filter, recorded in the
fit's ``nobs``). The models of a sequence may therefore be fitted to different rows; their
likelihood-ratio tests and information criteria are then not comparable
(:func:`mlmpipe.compare.compare_sequence` says so instead of testing). Covariates missing at
random are handled properly only by multiple imputation.
"""

from __future__ import annotations

import pandas as pd

from mlmpipe.errors import DataValidationError
from mlmpipe.record import FitRecord

NOTE = (
    "Likelihood on all available data: every row with an observed outcome is analysed (valid under "
    "MAR given the model's predictors; Little & Rubin 2019, sec. 6.2). Rows with a missing "
    "predictor are still dropped, but only from the models that use that predictor, so the models "
    "of the sequence can rest on different rows; likelihood-ratio tests and AIC/BIC are then not "
    "comparable and are not computed."
)


def available_cases(
    df: pd.DataFrame, levels: list[tuple[str, str | None, list[str]]], outcome: str
) -> tuple[list[pd.DataFrame], dict]:
    """Rows with an observed outcome and observed IDs (``imp0``), and a summary for the report:
    rows kept, rows a listwise deletion would keep, and per predictor the kept rows it is
    missing in (the rows the models using it drop)."""
    ids = [lv[1] for lv in levels if lv[1]]
    keep = df[[outcome, *ids]].notna().all(axis=1)
    out = df[keep].reset_index(drop=True)
    if out.empty:
        raise DataValidationError(
            f"missing.method: available: outcome {outcome!r} is never observed"
        )
    predictors = [p for lv in levels for p in lv[2]]
    complete = int(out[predictors].notna().all(axis=1).sum()) if predictors else len(out)
    info = {
        "rows": int(len(df)),
        "rows_outcome_observed": int(len(out)),
        "rows_complete": complete,
        "rows_kept_beyond_listwise": int(len(out) - complete),
        "predictor_missing": {p: int(out[p].isna().sum()) for p in predictors},
        "note": NOTE,
    }
    return [out], info


def available_section(info: dict, fits: list[FitRecord]) -> list:
    """Report items: the note, the row counts and the rows each model was fitted to."""
    text = (
        f"**Available-data analysis**: {info['rows_outcome_observed']} of {info['rows']} rows have "
        f"an observed outcome; {info['rows_complete']} are complete on every predictor (listwise "
        f"deletion would keep only those), {info['rows_kept_beyond_listwise']} more enter the "
        "models that do not use their missing predictors. " + info["note"]
    )
    out: list = [("md", text)]
    rows = [{"model": f.model, "estimator": f.estimator, "rows fitted": f.nobs} for f in fits]
    if rows:
        out.append(("table", pd.DataFrame(rows)))
    return out
