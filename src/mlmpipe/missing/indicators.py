"""What predicts missingness: missingness by cluster and a multilevel logistic model of each
missingness indicator.

For every level-1 variable ``v`` with missing values, the indicator ``R_v`` (1 = missing) is
regressed on the other analysis variables by a multilevel logistic model with a random intercept
per cluster,

    logit P(R_vij = 1) = x_ij' beta + u_j,   u_j ~ N(0, tau^2),

fitted by mlmpipe's GLMM engine (Laplace approximation, as lme4's ``glmer``) on the rows where
those predictors are observed. ``exp(beta)`` are odds ratios with Wald intervals; ``tau`` says how
much the propensity to be missing varies between clusters beyond the predictors. A level-2
variable's indicator is constant within a cluster, so it is modelled at the cluster level: a
single-level logistic regression with one row per cluster on the other level-2 variables and the
cluster means of the level-1 variables.

A clear predictor means the data are not MCAR; MAR (given the modelled variables) versus MNAR
cannot be decided from the data (Little & Rubin 2019, Statistical Analysis with Missing Data,
sec. 1.3; van Buuren 2018, Flexible Imputation of Missing Data, sec. 4.1). Degenerate cases are
recorded with a note instead of an estimate: too few missing (or observed) values, a 0/1
predictor that separates the indicator (quasi-complete separation, Albert & Anderson 1984,
Biometrika 71(1): the column is dropped and named), or a model the engine cannot estimate.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from mlmpipe.api import fit as fit_model


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
    """Numeric predictor columns: categorical variables as treatment dummies (``genderM``)."""
    parts = []
    for c in predictors:
        col = df[c]
        if isinstance(col.dtype, pd.CategoricalDtype) or col.dtype == object:
            d = pd.get_dummies(col, prefix=c, prefix_sep="", drop_first=True, dtype=float)
            d[col.isna()] = np.nan
            parts.append(d)
        else:
            parts.append(pd.to_numeric(col, errors="coerce").rename(c).to_frame())
    return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=df.index)


def separating_columns(x: pd.DataFrame, y: pd.Series) -> list[str]:
    """0/1 columns on one of whose values the indicator is constant (quasi-complete separation)."""
    out = []
    for c in x.columns:
        v = x[c].to_numpy()
        if not np.all((v == 0) | (v == 1)):
            continue
        for side in (0, 1):
            ys = y.to_numpy()[v == side]
            if len(ys) and (ys.min() == ys.max()):
                out.append(c)
                break
    return out


def _prepare(x: pd.DataFrame, y: pd.Series, v: str) -> tuple[pd.DataFrame, list[str]]:
    notes = []
    const = [c for c in x.columns if x[c].nunique() < 2]
    if const:
        notes.append(f"constant predictor(s) {', '.join(const)} dropped")
    x = x.drop(columns=const)
    sep = separating_columns(x, y)
    if sep:
        notes.append(
            f"quasi-complete separation: the missingness of {v} is constant on one value of "
            f"{', '.join(sep)} (odds ratio infinite); dropped from the model"
        )
    return x.drop(columns=sep), notes


def _multilevel(x: pd.DataFrame, y: pd.Series, groups: pd.Series, alpha: float) -> dict:
    """Random-intercept logistic fit; predictors renamed to safe formula names and back."""

    safe = {f"x{i}": c for i, c in enumerate(x.columns)}
    frame = x.set_axis(list(safe), axis=1).assign(r_missing=y.to_numpy(), g=groups.astype(str))
    rhs = " + ".join(["1", *safe])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fit_model(f"r_missing ~ {rhs} + (1 | g)", frame, family="binomial", alpha=alpha)
    table = res.fixed_table()
    vc = res.varcorr()
    out = {
        "predictors": [
            {
                "term": safe.get(t, t),
                "estimate": float(b),
                "se": float(se),
                "odds_ratio": float(np.exp(b)),
                "or_ci_low": float(lo),
                "or_ci_high": float(hi),
                "p": float(p),
            }
            for t, b, se, lo, hi, p in zip(
                table["term"],
                table["estimate"],
                table["se"],
                table["exp_ci_low"],
                table["exp_ci_high"],
                table["p"],
                strict=True,
            )
        ],
        "cluster_sd": float(vc["sdcor"].iloc[0]),
        "loglik": float(res.loglik),
        "converged": bool(res.converged),
        "singular": bool(res.singular),
    }
    msgs = [*res.warnings, *(str(w.message).splitlines()[0] for w in caught)]
    out["warnings"] = list(dict.fromkeys(msgs))
    return out


def _cluster_level(x: pd.DataFrame, y: pd.Series, alpha: float) -> dict:
    """Single-level logistic regression (one row per cluster) by maximum likelihood."""
    import statsmodels.api as sm  # heavy (statsmodels): cluster-level model only

    xx = sm.add_constant(x, has_constant="add").rename(columns={"const": "(Intercept)"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.Logit(y.to_numpy(float), xx.to_numpy(float)).fit(disp=0, maxiter=200)
    z = stats.norm.ppf(1 - alpha / 2)
    rows = []
    for name, b, se, p in zip(xx.columns, fit.params, fit.bse, fit.pvalues, strict=True):
        rows.append(
            {
                "term": name,
                "estimate": float(b),
                "se": float(se),
                "odds_ratio": float(np.exp(b)),
                "or_ci_low": float(np.exp(b - z * se)),
                "or_ci_high": float(np.exp(b + z * se)),
                "p": float(p),
            }
        )
    return {
        "predictors": rows,
        "loglik": float(fit.llf),
        "converged": bool(fit.mle_retvals["converged"]),
    }


def _one(df, v, preds, cluster, level2, min_missing, alpha) -> dict:
    r = df[v].isna()
    at_l2 = v in level2
    if at_l2:  # one row per cluster: level-2 predictors and cluster means of level-1 ones
        frame = _design(df, preds).assign(_r=r.astype(float), _g=df[cluster].to_numpy())
        frame = frame.groupby("_g", sort=True).mean()
        x, y, groups = frame.drop(columns="_r"), frame["_r"], None
    else:
        x, y, groups = _design(df, preds), r.astype(float), df[cluster]
    rows = x.notna().all(axis=1).to_numpy()
    x, y = x[rows], y[rows]
    groups = None if groups is None else groups[rows]
    unit = "clusters" if at_l2 else "rows"
    entry = {"variable": v, "n": int(rows.sum()), "missing": int(y.sum()), "predictors": []}
    if y.sum() < min_missing or (len(y) - y.sum()) < min_missing:
        entry["error"] = (
            f"not modelled: {int(y.sum())} missing and {int(len(y) - y.sum())} observed {unit} "
            f"(at least {min_missing} of each needed)"
        )
        return entry
    x, notes = _prepare(x, y, v)
    try:
        if at_l2:
            entry.update(_cluster_level(x, y, alpha))
            entry["model"] = f"logistic at the cluster level (one row per {cluster})"
        else:
            entry.update(_multilevel(x, y, groups, alpha))
            entry["model"] = f"multilevel logistic, random intercept per {cluster} (Laplace)"
            if entry["singular"]:
                notes.append(
                    f"cluster SD estimated at 0: the missingness of {v} does not vary between "
                    f"{cluster} clusters beyond the predictors"
                )
    except Exception as exc:  # an indicator model that cannot be estimated: recorded, not fatal
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        entry["error"] = f"cannot be estimated ({type(exc).__name__}: {first})"
    if notes:
        entry["notes"] = notes
    return entry


def indicator_models(
    df: pd.DataFrame,
    cluster: str,
    variables: list[str],
    min_missing: int = 5,
    level2: list[str] | tuple[str, ...] = (),
    alpha: float = 0.05,
) -> list[dict]:
    """Logistic model of each missingness indicator on the other ``variables``; one dict per
    variable with missing values (``predictors``: log-odds, SE, odds ratio with its 1 - alpha
    Wald interval, p; ``cluster_sd``; ``notes``; or ``error`` when it was not estimated).
    ``level2`` names the variables constant within ``cluster`` (modelled at the cluster level)."""
    out = []
    for v in variables:
        if not df[v].isna().any():
            continue
        preds = [p for p in variables if p != v]
        out.append(_one(df, v, preds, cluster, set(level2), min_missing, alpha))
    return out
