"""What predicts missingness: missingness by cluster and a model of each missingness indicator.

For every variable with missing values, ``R_v = 1`` when ``v`` is missing is regressed on the other
analysis variables (rows where those are observed) by a single-level logistic regression with
cluster-robust (CR1 sandwich) standard errors, clustered by the level-2 ID (statsmodels ``Logit``,
``cov_type="cluster"``). A multilevel logistic model (random cluster intercepts) is the target;
it waits for mlmpipe's GLMM engine, and the cluster-robust SEs keep the inference honest about the
clustering meanwhile. A predictor with a clear effect means the data are not MCAR; MAR (given the
modelled variables) versus MNAR cannot be decided from the data (Little & Rubin 2019, sec. 1.3).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd


def missing_by_cluster(df: pd.DataFrame, cluster: str, variables: list[str]) -> dict:
    """Per cluster: rows, rows with any missing value; summary of how many clusters lose how much."""
    incomplete = df[variables].isna().any(axis=1)
    per = (
        pd.DataFrame({"cluster": df[cluster].astype(str), "incomplete": incomplete})
        .groupby("cluster", sort=True)["incomplete"]
        .agg(rows="size", incomplete="sum")
        .reset_index()
    )
    per["percent"] = 100.0 * per["incomplete"] / per["rows"]
    bands = [(0, 0), (0, 10), (10, 25), (25, 50), (50, 100), (100, 100)]
    labels = ["none", "up to 10%", "10-25%", "25-50%", "over 50%", "all rows"]
    counts = []
    for (lo, hi), lab in zip(bands, labels, strict=True):
        if lo == hi:
            k = int((per["percent"] == lo).sum())
        elif hi == 100:
            k = int(((per["percent"] > lo) & (per["percent"] < 100)).sum())
        else:
            k = int(((per["percent"] > lo) & (per["percent"] <= hi)).sum())
        counts.append({"rows_incomplete": lab, "clusters": k})
    return {
        "cluster": cluster,
        "clusters": int(len(per)),
        "bands": counts,
        "per_cluster": per.sort_values("percent", ascending=False).to_dict(orient="records"),
    }


def _design(df: pd.DataFrame, predictors: list[str]) -> pd.DataFrame:
    parts = []
    for c in predictors:
        col = df[c]
        if isinstance(col.dtype, pd.CategoricalDtype):
            d = pd.get_dummies(col, prefix=c, prefix_sep="", drop_first=True, dtype=float)
            d[col.isna()] = np.nan
            parts.append(d)
        else:
            parts.append(pd.to_numeric(col, errors="coerce").rename(c).to_frame())
    x = pd.concat(parts, axis=1)
    x.insert(0, "(Intercept)", 1.0)
    return x


def indicator_models(df: pd.DataFrame, cluster: str, variables: list[str], min_missing: int = 5):
    """Logistic model of each missingness indicator on the other variables; list of result dicts."""
    import statsmodels.api as sm

    out = []
    for v in variables:
        r = df[v].isna()
        if r.sum() < min_missing or (~r).sum() < min_missing:
            continue
        preds = [p for p in variables if p != v]
        x = _design(df, preds)
        rows = x.notna().all(axis=1)
        x, y, groups = x[rows], r[rows].astype(float), df.loc[rows, cluster]
        x = x.loc[:, (x.std() > 0) | (x.columns == "(Intercept)")]
        entry = {"variable": v, "n": int(rows.sum()), "missing": int(y.sum()), "predictors": []}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = sm.Logit(y.to_numpy(), x.to_numpy()).fit(
                    disp=0,
                    cov_type="cluster",
                    cov_kwds={"groups": pd.factorize(groups)[0]},
                    maxiter=200,
                )
        except Exception as exc:  # separation or a singular design: recorded, not fatal
            entry["error"] = str(exc).splitlines()[0]
            out.append(entry)
            continue
        for name, b, se, p in zip(x.columns, fit.params, fit.bse, fit.pvalues, strict=True):
            entry["predictors"].append(
                {
                    "term": name,
                    "estimate": float(b),
                    "se": float(se),
                    "odds_ratio": float(np.exp(b)),
                    "p": float(p),
                }
            )
        entry["model"] = "logistic, cluster-robust SE by " + cluster
        out.append(entry)
    return out
