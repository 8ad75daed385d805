"""Estimators that ignore or handle clustering differently from the mixed model.

All use the fixed-effects design of the specification's formula (same columns and names as the
mixed model) and return the table layout ``term, estimate, se, df, p, ci_low, ci_high``:

* ``ols_cluster``: OLS with cluster-robust (CR1) standard errors, t reference with G - 1 df
  (statsmodels; Cameron & Miller 2015, J. Human Resources 50(2)).
* ``gee``: GEE with an exchangeable working correlation and robust sandwich SEs (statsmodels;
  Liang & Zeger 1986, Biometrika 73(1)); population-averaged, normal reference.
* ``within``: linearmodels ``PanelOLS`` with cluster (entity) effects: only within-cluster variation,
  cluster-constant columns are absorbed; cluster-robust SEs.
* ``between``: linearmodels ``BetweenOLS`` on cluster means; columns whose cluster means are
  constant or collinear are not identified (recorded, and a focal term among them fails the spec).
* ``random_effects``: linearmodels ``RandomEffects`` (GLS random intercept), plus a Hausman-type
  comparison of the within and between coefficients of the terms both identify:
  ``H = d' (V_W + V_B)^-1 d ~ chi2(k)`` with ``d = b_W - b_B``; within and between estimators are
  independent, and a large H says the cluster effects correlate with the level-1 predictors
  (Hausman 1978, Econometrica 46(6); Mundlak 1978, Econometrica 46(1)).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import stats

from mlmpipe.engine.lmm import drop_rank_deficient
from mlmpipe.formula import build_design


def _design(data: pd.DataFrame, f: str):
    design = build_design(f, data)
    codes = np.asarray(design.re_terms[0].codes)
    X = pd.DataFrame(np.asarray(design.X, dtype=float), columns=list(design.fixed_names))
    return X, np.asarray(design.y, dtype=float), codes


def _table(names, est, se, df, alpha: float) -> pd.DataFrame:
    est, se = np.asarray(est, float), np.asarray(se, float)
    df = np.broadcast_to(np.asarray(df, float), est.shape)
    t = est / se
    p = 2 * stats.t.sf(np.abs(t), df)
    q = stats.t.ppf(1 - alpha / 2, df)
    return pd.DataFrame(
        {
            "term": list(names),
            "estimate": est,
            "se": se,
            "df": df,
            "p": p,
            "ci_low": est - q * se,
            "ci_high": est + q * se,
        }
    )


def _info(y: np.ndarray, codes: np.ndarray, **more) -> dict:
    return {"nobs": int(len(y)), "nclusters": int(len(np.unique(codes))), "warnings": [], **more}


def ols_cluster(data: pd.DataFrame, f: str, d: dict) -> tuple[pd.DataFrame, dict]:
    import statsmodels.api as sm  # heavy (statsmodels): this estimator only

    X, y, codes = _design(data, f)
    res = sm.OLS(y, X).fit(cov_type="cluster", cov_kwds={"groups": codes})
    g = len(np.unique(codes))
    return _table(X.columns, res.params, res.bse, g - 1, d["alpha"]), _info(y, codes)


def gee(data: pd.DataFrame, f: str, d: dict) -> tuple[pd.DataFrame, dict]:
    import statsmodels.api as sm  # heavy (statsmodels): this estimator only

    X, y, codes = _design(data, f)
    model = sm.GEE(
        y, X, groups=codes, family=sm.families.Gaussian(), cov_struct=sm.cov_struct.Exchangeable()
    )
    res = model.fit()
    rho = float(model.cov_struct.dep_params)
    return _table(X.columns, res.params, res.bse, np.inf, d["alpha"]), _info(
        y, codes, working_correlation=rho
    )


def _panel(X: pd.DataFrame, y: np.ndarray, codes: np.ndarray):
    order = np.argsort(codes, kind="stable")
    pos = np.empty_like(codes)
    _, counts = np.unique(codes[order], return_counts=True)
    pos[order] = np.concatenate([np.arange(c) for c in counts])
    idx = pd.MultiIndex.from_arrays([codes, pos], names=["cluster", "unit"])
    return X.set_index(idx), pd.Series(y, index=idx, name="y")


def _within(X, y, codes):
    from linearmodels.panel import PanelOLS  # heavy (linearmodels): this estimator only

    Xp, yp = _panel(X.drop(columns=["(Intercept)"], errors="ignore"), y, codes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # absorbed columns are returned and recorded
        res = PanelOLS(yp, Xp, entity_effects=True, drop_absorbed=True, check_rank=False).fit(
            cov_type="clustered", cluster_entity=True
        )
    absorbed = [c for c in Xp.columns if c not in res.params.index]
    return res, absorbed


def _between_columns(X: pd.DataFrame, codes: np.ndarray) -> tuple[list[str], list[str]]:
    """Columns identified by a regression on cluster means (constant or collinear means drop)."""
    means = X.groupby(codes).mean()
    scale = np.maximum(X.abs().max().to_numpy(), 1.0)
    spread = means.std().to_numpy() / scale
    cand = [c for c, s in zip(X.columns, spread, strict=True) if c == "(Intercept)" or s > 1e-10]
    keep, _ = drop_rank_deficient(means[cand].to_numpy(), tuple(cand))
    kept = [cand[i] for i in keep]
    return kept, [c for c in X.columns if c not in kept]


def _between(X, y, codes):
    from linearmodels.panel import BetweenOLS  # heavy (linearmodels): this estimator only

    kept, dropped = _between_columns(X, codes)
    Xp, yp = _panel(X[kept], y, codes)
    return BetweenOLS(yp, Xp, check_rank=False).fit(), dropped


def within(data: pd.DataFrame, f: str, d: dict) -> tuple[pd.DataFrame, dict]:
    X, y, codes = _design(data, f)
    res, absorbed = _within(X, y, codes)
    table = _table(res.params.index, res.params, res.std_errors, np.inf, d["alpha"])
    return table, _info(y, codes, not_identified=absorbed)


def between(data: pd.DataFrame, f: str, d: dict) -> tuple[pd.DataFrame, dict]:
    X, y, codes = _design(data, f)
    res, dropped = _between(X, y, codes)
    dfree = len(np.unique(codes)) - len(res.params)
    table = _table(res.params.index, res.params, res.std_errors, dfree, d["alpha"])
    return table, _info(y, codes, not_identified=dropped)


def hausman_within_between(X: pd.DataFrame, y: np.ndarray, codes: np.ndarray) -> dict:
    """Hausman-type contrast of within and between coefficients on the terms both identify."""
    w, _ = _within(X, y, codes)
    b, _ = _between(X, y, codes)
    common = [t for t in w.params.index if t in b.params.index and t != "(Intercept)"]
    if not common:
        return {"terms": [], "statistic": None, "df": 0, "p": None}
    dvec = (w.params[common] - b.params[common]).to_numpy()
    V = w.cov.loc[common, common].to_numpy() + b.cov.loc[common, common].to_numpy()
    H = float(dvec @ np.linalg.solve(V, dvec))
    return {
        "terms": common,
        "within": [float(v) for v in w.params[common]],
        "between": [float(v) for v in b.params[common]],
        "statistic": H,
        "df": len(common),
        "p": float(stats.chi2.sf(H, len(common))),
    }


def random_effects(data: pd.DataFrame, f: str, d: dict) -> tuple[pd.DataFrame, dict]:
    from linearmodels.panel import RandomEffects  # heavy (linearmodels): this estimator only

    X, y, codes = _design(data, f)
    Xp, yp = _panel(X, y, codes)
    res = RandomEffects(yp, Xp, check_rank=False).fit()
    table = _table(res.params.index, res.params, res.std_errors, np.inf, d["alpha"])
    return table, _info(y, codes, hausman=hausman_within_between(X, y, codes))


ESTIMATORS: dict[str, Callable[[pd.DataFrame, str, dict], tuple[pd.DataFrame, dict]]] = {
    "ols_cluster": ols_cluster,
    "gee": gee,
    "within": within,
    "between": between,
    "random_effects": random_effects,
}
