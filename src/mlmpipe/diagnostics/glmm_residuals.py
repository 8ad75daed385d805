"""Residual diagnostics of a fitted GLMM or ordinal model, from its stored result and residual table.

Level 1: randomized quantile residuals (binomial, Poisson, NB2) or surrogate residuals (ordinal),
conditional on the conditional modes (:mod:`mlmpipe.diagnostics.quantile` states the statistics and
the choice). Each is summarized by a Kolmogorov-Smirnov test against its reference distribution
(standard normal; logistic or normal for ordinal surrogate residuals), outliers
``|Phi^{-1}(PIT)| > 3`` (0.27% expected by chance) and the Brown-Forsythe test of equal spread
across clusters on the normal scores. Cluster level: the standardized conditional modes
(Goldstein 2011, sec. 3.2) with a Shapiro-Wilk test per term.

Caveat (reported with the numbers): the residuals use estimated parameters and modes, so the tests
are approximate, and with thousands of rows a KS test detects departures too small to matter;
read the plots first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from mlmpipe.diagnostics.clusters import (
    OUTLIER_Z,
    heteroscedasticity,
    level2_outliers,
    standardized_modes,
)
from mlmpipe.diagnostics.quantile import randomized_quantile_residuals, surrogate_residuals
from mlmpipe.errors import EstimationError
from mlmpipe.record import FitRecord, ModelFamily

#: rows kept in the stored plotting table (a seeded subsample above this; tests use all rows)
PLOT_ROWS = 20_000
MAX_PREDICTORS = 8
CAVEAT = (
    "conditional on the estimated modes and parameters, so the tests are approximate; with many "
    "rows the KS test flags departures too small to matter; read the plots first"
)


def residual_kind(family: ModelFamily) -> dict:
    """What the level-1 residual of a family is (its ``residual_type``) and its reference
    distribution (the latent logistic or normal of an ordinal link; else standard normal)."""
    kind = family.residual_type
    if kind == "surrogate":
        ref = "logistic" if family.link == "logit" else "normal"
        return {
            "residual": "surrogate (Liu & Zhang 2018), conditional on the modes",
            "reference": ref,
        }
    if kind == "quantile":
        return {
            "residual": "randomized quantile (Dunn & Smyth 1996), conditional on the modes",
            "reference": "normal",
        }
    raise EstimationError(f"GLMM residuals: family {family.name!r} is not a GLMM family")


def glmm_residuals(rec: FitRecord, resid: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Per row: ``row, eta, residual`` (quantile or surrogate) and ``z`` (its normal score)."""
    missing = [c for c in ("eta", "y", "weight") if c not in resid.columns]
    if missing:
        raise EstimationError(
            f"GLMM residuals of {rec.label}: the residual table lacks "
            f"columns {missing}; refit the model with this version of mlmpipe"
        )
    fam = rec.family
    eta = resid["eta"].to_numpy(float)
    y = resid["y"].to_numpy(float)
    if fam.residual_type == "surrogate":
        alpha = np.array([t.estimate for t in rec.thresholds], float)
        r, z = surrogate_residuals(fam.link, y, eta, alpha, seed)
    else:
        r = randomized_quantile_residuals(
            fam.name,
            y,
            resid["fitted"].to_numpy(float),
            resid["weight"].to_numpy(float),
            fam.dispersion,
            seed,
        )
        z = r
    return pd.DataFrame({"row": resid["row"].to_numpy(), "eta": eta, "residual": r, "z": z})


def ks_test(values: np.ndarray, reference: str) -> dict:
    """One-sample KS test against the standard normal or standard logistic distribution."""
    dist = {"normal": "norm", "logistic": "logistic"}[reference]
    res = stats.kstest(np.asarray(values, float), dist)
    return {
        "test": f"Kolmogorov-Smirnov vs standard {reference}",
        "n": int(len(values)),
        "statistic": float(res.statistic),
        "p": float(res.pvalue),
    }


def modes_normality(zs: dict[str, pd.DataFrame]) -> list[dict]:
    """Shapiro-Wilk test of the standardized conditional modes of each term (3+ levels)."""
    out = []
    for g, z in zs.items():
        for term in z.columns:
            x = z[term].to_numpy(float)
            if len(x) < 3 or np.ptp(x) == 0:
                continue
            w, p = stats.shapiro(x)
            out.append({"group": g, "term": term, "n": len(x), "W": float(w), "p": float(p)})
    return out


def trend_tests(residual: np.ndarray, columns: dict[str, np.ndarray], bins: int = 10) -> list[dict]:
    """Kruskal-Wallis test that the residual's location is the same across the deciles (or the
    distinct values, when there are at most ``bins``) of each column. Under the model the
    residuals are independent of the predictors and of ``eta``; a mean structure that misses a
    term (an omitted quadratic, a wrong link) shows as a shift between bins, which the marginal KS
    test of binary and ordinal residuals does not see (Liu & Zhang 2018, sec. 4, read these
    residual-vs-covariate relations from plots)."""
    out = []
    r = np.asarray(residual, float)
    for name, x in columns.items():
        x = np.asarray(x, float)
        if np.unique(x).size <= bins:
            codes = pd.factorize(x)[0]
        else:
            codes = pd.qcut(x, bins, labels=False, duplicates="drop")
        groups = [r[codes == c] for c in np.unique(codes)]
        groups = [gr for gr in groups if gr.size]
        if len(groups) < 2:
            continue
        h, p = stats.kruskal(*groups)
        out.append(
            {
                "variable": name,
                "test": "Kruskal-Wallis across bins",
                "bins": len(groups),
                "statistic": float(h),
                "p": float(p),
            }
        )
    return out


def _predictor_columns(
    rec: FitRecord, data: pd.DataFrame, rows: np.ndarray
) -> dict[str, np.ndarray]:
    """The model's fixed-effect columns (no intercept) at ``rows``, for residual-vs-predictor
    plots (the first ``MAX_PREDICTORS``)."""
    d = rec.design(data)
    pos = pd.Series(np.arange(len(d.rows)), index=np.asarray(d.rows))
    idx = pos.reindex(rows).to_numpy()
    if np.isnan(idx.astype(float)).any():
        raise EstimationError(
            f"GLMM residuals: rows of the residual table are not in the data of {rec.formula_text}"
        )
    X = np.asarray(d.X)[idx.astype(int)]
    keep = [j for j, n in enumerate(d.fixed_names) if n != "(Intercept)"][:MAX_PREDICTORS]
    return {d.fixed_names[j]: X[:, j] for j in keep}


def glmm_residual_diagnostics(
    rec: FitRecord, resid: pd.DataFrame, data: pd.DataFrame, group: str, seed: int
) -> dict:
    """JSON-able diagnostics of a GLMM/ordinal fit (see module docstring): the residual tests,
    outliers, Brown-Forsythe test, modes' normality, and a table for the figures."""
    kind = residual_kind(rec.family)
    res = glmm_residuals(rec, resid, seed)
    rows = res["row"].to_numpy()
    clusters = data[group].to_numpy()[rows]
    out = res.assign(standardized=res["z"], cluster=[str(c) for c in clusters])
    out = out[out["z"].abs() > OUTLIER_Z]
    out = out.reindex(out["z"].abs().sort_values(ascending=False).index)
    preds = _predictor_columns(rec, data, rows)
    trends = trend_tests(res["residual"].to_numpy(), {"eta": res["eta"].to_numpy(), **preds})
    table = res.assign(**preds)
    if len(table) > PLOT_ROWS:
        pick = np.random.default_rng(seed).choice(len(table), PLOT_ROWS, replace=False)
        table = table.iloc[np.sort(pick)]
    zs = standardized_modes(rec)
    return {
        "model": rec.label,
        "family": rec.family.name,
        "link": rec.family.link,
        "seed": int(seed),
        **kind,
        "sigma": 1.0,
        "outlier_limit": OUTLIER_Z,
        "outliers_expected": float(2 * stats.norm.sf(OUTLIER_Z) * len(res)),
        "residual_test": ks_test(res["residual"], kind["reference"]),
        "trend_tests": trends,
        "modes_normality": modes_normality(zs),
        "caveat": CAVEAT,
        "level1_outliers": out[["row", "eta", "residual", "standardized", "cluster"]].to_dict(
            orient="records"
        ),
        "level2_outliers": level2_outliers(rec).to_dict(orient="records"),
        "heteroscedasticity": heteroscedasticity(pd.DataFrame({"residual": res["z"]}), clusters),
        "residual_table": {c: table[c].tolist() for c in table.columns},
    }


def residual_summary_line(diag: dict) -> str:
    """One line for the report: the residual KS test and the modes' Shapiro-Wilk tests."""
    if "residual_test" not in diag:
        return ""
    t = diag["residual_test"]
    modes = "; ".join(
        f"{m['group']} {m['term']} modes: Shapiro-Wilk p = {m['p']:.3g}"
        for m in diag["modes_normality"]
    )
    trend = min(diag.get("trend_tests", []), key=lambda d: d["p"], default=None)
    worst = (
        f"; smallest residual-vs-predictor p = {trend['p']:.3g} ({trend['variable']})"
        if trend
        else ""
    )
    return (
        f"Level-1 residuals, {diag['residual']}: {t['test']} D = {t['statistic']:.4f}, p = {t['p']:.3g} "
        f"(n = {t['n']}){worst}; {modes or 'no modes to test'}. Caveat: {diag['caveat']}."
    )
