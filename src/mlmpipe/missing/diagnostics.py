"""Missing-data diagnostics: per variable, per level, patterns, rows lost by listwise deletion,
missingness by cluster, Little's MCAR test and models of the missingness indicators
(:mod:`mlmpipe.missing.mcar`, :mod:`mlmpipe.missing.indicators`)."""

from __future__ import annotations

import pandas as pd

from mlmpipe.missing.indicators import indicator_models, missing_by_cluster
from mlmpipe.missing.mcar import little_mcar_test


def missing_report(
    df: pd.DataFrame, levels: list[tuple[str, str | None, list[str]]], outcome: str
) -> dict:
    """Describe missingness of validated data.

    ``levels`` lists ``(level name, id column, predictor names)`` from lowest to highest.
    Level-2+ variables are counted per cluster (a school with a missing school variable is one
    missing school), level-1 variables per row.
    """
    per_variable = []
    for li, (lname, idcol, preds) in enumerate(levels):
        variables = ([outcome] if li == 0 else []) + preds
        unit = df if li == 0 else df.drop_duplicates(subset=[idcol])
        for var in variables:
            n_miss = int(unit[var].isna().sum())
            per_variable.append(
                {
                    "variable": var,
                    "level": lname,
                    "units": int(len(unit)),
                    "missing": n_miss,
                    "percent": 100.0 * n_miss / max(len(unit), 1),
                }
            )
    variables = [v["variable"] for v in per_variable]
    miss = df[variables].isna()
    patterns = (
        miss.apply(lambda r: "".join("." if not m else "M" for m in r), axis=1)
        .value_counts()
        .rename_axis("pattern")
        .reset_index(name="rows")
    )
    complete = ~miss.any(axis=1)
    per_level = []
    for lname, idcol, _ in levels[1:]:
        before = df[idcol].nunique()
        after = df.loc[complete, idcol].nunique()
        per_level.append(
            {"level": lname, "clusters": int(before), "clusters_after_listwise": int(after)}
        )
    out = {
        "variables_order": variables,
        "per_variable": per_variable,
        "patterns": patterns.head(20).to_dict(orient="records"),
        "rows": int(len(df)),
        "complete_rows": int(complete.sum()),
        "rows_lost_listwise": int((~complete).sum()),
        "per_level": per_level,
    }
    if len(levels) > 1 and miss.to_numpy().any():
        cluster = levels[1][1]
        out["by_cluster"] = missing_by_cluster(df, cluster, variables)
        out["little_mcar"] = little_mcar_test(df[variables])
        out["indicator_models"] = indicator_models(df, cluster, variables, level2=levels[1][2])
    return out
