"""Cross-level interactions: simple slopes, the Johnson-Neyman interval and prediction lines.

For a model with ``b1 x + b2 w + b3 x:w`` (x varying within clusters, w constant within clusters),
the slope of x at moderator value w is ``s(w) = b1 + b3 w`` with variance
``V11 + 2 w V13 + w^2 V33`` (Aiken & West 1991; Preacher, Curran & Bauer 2006, J. Educ. Behav.
Stat. 31(4), for multilevel models). Its t test uses the Satterthwaite df of the contrast
``(.., 1, .., w, ..)`` (Kuznetsova et al. 2017). The Johnson-Neyman boundaries are the w where
``s(w)^2 = t_crit^2 Var(s(w))``, the roots of

    (b3^2 - t^2 V33) w^2 + 2 (b1 b3 - t^2 V13) w + (b1^2 - t^2 V11) = 0,

with t_crit the two-sided critical t (df of the slope at the mean of w). The slope is significant
where the quadratic is positive. For a two-category moderator (a 0/1 dummy) the simple slopes are
reported per category and no interval is computed.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from scipy import stats

from mlmpipe.effects.parts import cluster_means, level_of_columns
from mlmpipe.effects.refit import fit_again
from mlmpipe.engine.results import LmmResult
from mlmpipe.engine.satterthwaite import contrast_df
from mlmpipe.record import FitRecord
from mlmpipe.record.restore import restore


def cross_level_terms(names: list[str], X: np.ndarray, codes: np.ndarray) -> list[dict]:
    """Interaction terms ``a:b`` of two main effects in the model with a within-cluster ``a`` and a
    between-cluster ``b`` (either order): ``[{"term", "focal", "moderator"}]``."""
    levels = dict(zip(names, level_of_columns(X, codes), strict=True))
    out = []
    for t in names:
        parts = t.split(":")
        if len(parts) != 2 or not all(p in levels for p in parts):
            continue
        a, b = parts
        if levels[a] == "within" and levels[b] == "between":
            out.append({"term": t, "focal": a, "moderator": b})
        elif levels[b] == "within" and levels[a] == "between":
            out.append({"term": t, "focal": b, "moderator": a})
    return out


def _contrast(names: list[str], focal: str, term: str, w: float) -> np.ndarray:
    L = np.zeros(len(names))
    L[names.index(focal)] = 1.0
    L[names.index(term)] = w
    return L


def simple_slopes(
    result, focal: str, moderator: str, term: str, values: dict, alpha: float
) -> list[dict]:
    """Slope of ``focal`` at each moderator value (``{label: w}``) of a fitted engine result:
    estimate, SE, Satterthwaite df, t, p and the (1 - alpha) interval."""
    names = list(result.model.fixed_names)
    rows = []
    for label, w in values.items():
        L = _contrast(names, focal, term, w)
        est = float(L @ result.beta)
        var, df = contrast_df(result.model, result.theta, result.sigma, result.vcov, L)
        se = float(np.sqrt(var))
        q = stats.t.ppf(1 - alpha / 2, df)
        rows.append(
            {
                "moderator_value": label,
                "w": float(w),
                "slope": est,
                "se": se,
                "df": float(df),
                "t": est / se,
                "p": float(2 * stats.t.sf(abs(est / se), df)),
                "ci_low": float(est - q * se),
                "ci_high": float(est + q * se),
            }
        )
    return rows


def johnson_neyman(b1: float, b3: float, V: np.ndarray, tcrit: float, w_range) -> dict:
    """Moderator values where the simple slope changes significance (see the module docstring).

    ``V``: 2x2 covariance of (b1, b3). Returns the roots inside/outside ``w_range`` and a
    description of where the slope is significant.
    """
    t2 = tcrit**2
    a = b3**2 - t2 * V[1, 1]
    b = 2 * (b1 * b3 - t2 * V[0, 1])
    c = b1**2 - t2 * V[0, 0]
    disc = b * b - 4 * a * c
    lo_w, hi_w = float(w_range[0]), float(w_range[1])
    if abs(a) < 1e-15 or disc < 0:
        roots: list[float] = []
    else:
        r = np.sort(np.array([(-b - np.sqrt(disc)) / (2 * a), (-b + np.sqrt(disc)) / (2 * a)]))
        roots = [float(v) for v in r]

    def significant(w: float) -> bool:
        return a * w * w + b * w + c > 0

    grid = np.linspace(lo_w, hi_w, 201)
    share = float(np.mean([significant(w) for w in grid]))
    if not roots:
        where = "everywhere" if significant(0.5 * (lo_w + hi_w)) else "nowhere"
    elif a > 0:
        where = f"outside [{roots[0]:.4g}, {roots[1]:.4g}]"
    else:
        where = f"inside [{roots[0]:.4g}, {roots[1]:.4g}]"
    return {
        "bounds": roots,
        "significant": where,
        "observed_range": [lo_w, hi_w],
        "share_of_range_significant": share,
        "t_crit": float(tcrit),
    }


def moderator_values(w: np.ndarray, codes: np.ndarray, name: str) -> tuple[dict, bool]:
    """``({label: value}, binary)``: 0/1 for a dummy, else mean and +-1 SD over clusters."""
    k = int(codes.max()) + 1
    per_cluster = np.full(k, np.nan)
    per_cluster[codes] = w
    per_cluster = per_cluster[~np.isnan(per_cluster)]
    uniq = np.unique(per_cluster)
    if len(uniq) == 2 and set(uniq) <= {0.0, 1.0}:
        return {f"{name} = 0": 0.0, f"{name} = 1": 1.0}, True
    m, s = float(per_cluster.mean()), float(per_cluster.std(ddof=1))
    return {"mean - 1 SD": m - s, "mean": m, "mean + 1 SD": m + s}, False


def prediction_lines(
    parts_X: np.ndarray,
    names: list[str],
    result,
    focal: str,
    term: str,
    moderator: str,
    values: dict,
    alpha: float,
    n: int = 41,
) -> list[dict]:
    """Predicted outcome (fixed part, other predictors at their means) over the range of ``focal``
    at each moderator value, with pointwise (1 - alpha) normal intervals."""
    j_f, j_m, j_t = names.index(focal), names.index(moderator), names.index(term)
    base = parts_X.mean(axis=0)
    xs = np.linspace(np.quantile(parts_X[:, j_f], 0.02), np.quantile(parts_X[:, j_f], 0.98), n)
    z = stats.norm.ppf(1 - alpha / 2)
    out = []
    for label, w in values.items():
        rows = np.tile(base, (n, 1))
        rows[:, j_f] = xs
        rows[:, j_m] = w
        rows[:, j_t] = xs * w
        fit = rows @ result.beta
        se = np.sqrt(np.einsum("ij,jk,ik->i", rows, result.vcov, rows))
        out.append(
            {
                "moderator_value": label,
                "x": xs.tolist(),
                "fit": fit.tolist(),
                "low": (fit - z * se).tolist(),
                "high": (fit + z * se).tolist(),
            }
        )
    return out


def interaction_model(rec: FitRecord, data: pd.DataFrame) -> LmmResult:
    """The engine result the slopes are computed from. A single-data-set record is restored on
    ``data``, the data it was fitted to (its estimates, no refit), with the unadjusted covariance
    of beta with which the Satterthwaite df of a contrast is computed (a Kenward-Roger record
    stores the adjusted one). A Rubin-pooled record has no data set that reproduces its
    estimates: its model is fitted afresh to ``data`` (the first completed data set)."""
    if rec.is_pooled:
        return fit_again(rec, data)
    res = restore(rec, data)
    if res.df_method == "kenward_roger":
        res = dataclasses.replace(res, vcov=res.model.vcov_beta(res.factor, res.sigma))
    return res


def analyse_interactions(res: LmmResult, alpha: float = 0.05) -> list[dict]:
    """Simple slopes, prediction lines and (continuous moderators) the slope curve and the
    Johnson-Neyman interval of each cross-level term of the engine result ``res``."""
    names = list(res.model.fixed_names)
    X = res.model.X
    codes = res.model.reterms[0].term.codes  # clusters of the first grouping factor
    out = []
    for spec in cross_level_terms(names, X, codes):
        w = X[:, names.index(spec["moderator"])]
        values, binary = moderator_values(w, codes, spec["moderator"])
        slopes = simple_slopes(res, spec["focal"], spec["moderator"], spec["term"], values, alpha)
        entry = {
            **spec,
            "binary_moderator": binary,
            "simple_slopes": slopes,
            "lines": prediction_lines(
                X, names, res, spec["focal"], spec["term"], spec["moderator"], values, alpha
            ),
        }
        if not binary:
            i, k = names.index(spec["focal"]), names.index(spec["term"])
            V = res.vcov[np.ix_([i, k], [i, k])]
            mid = next(s for s in slopes if s["moderator_value"] == "mean")
            wc = cluster_means(w, codes)
            tcrit = stats.t.ppf(1 - alpha / 2, mid["df"])
            grid = np.linspace(float(w.min()), float(w.max()), 61)
            slope = res.beta[i] + res.beta[k] * grid
            se = np.sqrt(V[0, 0] + 2 * grid * V[0, 1] + grid**2 * V[1, 1])
            entry["slope_curve"] = {
                "w": grid.tolist(),
                "slope": slope.tolist(),
                "low": (slope - tcrit * se).tolist(),
                "high": (slope + tcrit * se).tolist(),
            }
            entry["johnson_neyman"] = johnson_neyman(
                res.beta[i],
                res.beta[k],
                V,
                stats.t.ppf(1 - alpha / 2, mid["df"]),
                (float(wc.min()), float(wc.max())),
            )
        else:
            entry["johnson_neyman"] = None
        out.append(entry)
    return out


def interaction_analysis(rec: FitRecord, data: pd.DataFrame, alpha: float = 0.05) -> dict:
    """Each cross-level term of ``rec`` analysed on the model of :func:`interaction_model`."""
    res = interaction_model(rec, data)
    return {"model": rec.label, "alpha": alpha, "interactions": analyse_interactions(res, alpha)}
