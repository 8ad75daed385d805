"""Per-level descriptives: N per level, cluster sizes, each variable at the level where it lives,
and the between/within decomposition of level-1 variables."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _levels_of(spec: dict) -> list[tuple[str, str | None, list[str]]]:
    return [(lv["name"], lv["id"], list(lv["predictors"])) for lv in spec["levels"]]


def _numeric_summary(s: pd.Series) -> dict:
    s = s.dropna().astype(float)
    return {
        "n": int(s.size),
        "mean": float(s.mean()) if s.size else None,
        "sd": float(s.std(ddof=1)) if s.size > 1 else None,
        "min": float(s.min()) if s.size else None,
        "max": float(s.max()) if s.size else None,
    }


def describe(df: pd.DataFrame, spec: dict) -> dict:
    """Descriptives of validated data; ``spec`` is the decoded ``Plan.slice_validate()``.

    Returns ``{"structure": [...], "cluster_sizes": [...], "variables": [...]}`` where every
    variable row carries its level and, for level-1 numeric variables, the between-cluster SD
    (SD of cluster means) and the pooled within-cluster SD for each higher level.
    """
    levels = _levels_of(spec)
    outcome = spec["outcome"]["name"]
    structure = [{"level": levels[0][0], "id": levels[0][1], "n": int(len(df))}]
    sizes = []
    for name, idcol, _ in levels[1:]:
        counts = df.groupby(idcol, observed=True).size()
        structure.append({"level": name, "id": idcol, "n": int(counts.size)})
        sizes.append(
            {
                "level": name,
                "min": int(counts.min()),
                "q25": float(counts.quantile(0.25)),
                "median": float(counts.median()),
                "mean": float(counts.mean()),
                "q75": float(counts.quantile(0.75)),
                "max": int(counts.max()),
            }
        )
    rows = []
    for li, (lname, idcol, preds) in enumerate(levels):
        variables = ([outcome] if li == 0 else []) + preds
        unit = df if li == 0 else df.drop_duplicates(subset=[idcol])
        for var in variables:
            col = unit[var]
            row = {"variable": var, "level": lname}
            if isinstance(col.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(col):
                props = col.value_counts(normalize=True, dropna=True, sort=False)
                row.update(
                    {
                        "n": int(col.notna().sum()),
                        "categories": {str(k): float(v) for k, v in props.items()},
                    }
                )
            else:
                row.update(_numeric_summary(col))
                if li == 0:
                    for hname, hid, _ in levels[1:]:
                        means = df.groupby(hid, observed=True)[var].transform("mean")
                        within = (df[var] - means).dropna()
                        cm = df.groupby(hid, observed=True)[var].mean()
                        row[f"sd_between_{hname}"] = float(cm.std(ddof=1))
                        row[f"sd_within_{hname}"] = float(
                            np.sqrt((within**2).sum() / max(within.size - cm.size, 1))
                        )
            rows.append(row)
    return {"structure": structure, "cluster_sizes": sizes, "variables": rows}


def descriptives_table(desc: dict) -> pd.DataFrame:
    """Flat table (one row per variable) of :func:`describe`'s output."""
    rows = []
    for r in desc["variables"]:
        r = dict(r)
        cats = r.pop("categories", None)
        if cats:
            r["categories"] = "; ".join(f"{k}: {v:.1%}" for k, v in cats.items())
        rows.append(r)
    return pd.DataFrame(rows)
