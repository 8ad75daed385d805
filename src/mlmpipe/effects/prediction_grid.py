"""Predictions of a fitted GLMM at chosen covariate values (see ``effects/predictions.py``).

The covariate values ("the grid") are the rows of a data frame over the model's variables (the data
columns of the formula, not the grouping factors). The default grid crosses every level of each
categorical variable (a factor, or a 0/1 number) with mean - 1 SD, mean and mean + 1 SD of each
continuous one (mean and SD over clusters for a variable constant within the first grouping
factor's clusters, over observations otherwise); when that grid exceeds ``MAX_DEFAULT_ROWS``, the
continuous variables after the first two are held at their means (recorded in the output). A plan
may instead fix ``at: {variable: [values]}``; variables it does not list are then held at their
mean (continuous) or their first level (categorical).
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import pandas as pd

from mlmpipe.effects.predictions import (
    PredictionModel,
    category_probabilities,
    mean_response,
    random_sd,
    random_sd_jacobian,
)
from mlmpipe.errors import PlanError
from mlmpipe.formula import new_data_matrices
from mlmpipe.formula.parse import walk_names

MAX_DEFAULT_ROWS = 256


# --------------------------------------------------------------------------- the fitted model
def _theta_parts(res):
    """Relative factors ``T_g`` and the cells of each theta entry, in ``res.model.reterms`` order."""
    m = res.model
    factors = tuple(r.T(res.theta[sl]) for r, sl in zip(m.reterms, m.theta_index, strict=True))
    cells = tuple((np.asarray(r.tri_rows), np.asarray(r.tri_cols)) for r in m.reterms)
    return factors, cells


def _usable(V: np.ndarray, theta: np.ndarray, lower: np.ndarray) -> bool:
    """A covariance of (theta, ...) for the delta method: finite, positive definite, and no
    variance component on its boundary (there the Hessian is one-sided and the normal
    approximation for theta does not hold)."""
    if np.any((np.isfinite(lower)) & (theta <= lower + 1e-8)):
        return False
    return bool(np.all(np.isfinite(V)) and np.all(np.linalg.eigvalsh(V) > 0))


def prediction_model(res) -> PredictionModel:
    """Fixed effects, their covariance and the random-effects covariances of a ``GlmmResult``
    (ordinal: thresholds and the joint covariance of fixed effects and thresholds), with the
    covariance of ``(theta, beta[, thresholds])`` from ``2 H^{-1}`` of the fit when usable."""
    fam = res.glmm.family
    g = res.glmm
    nt, p = g.ntheta, g.p
    sig = res.covariance_matrices()
    sigmas = tuple(np.atleast_2d(sig[r.name]) for r in res.model.reterms)
    factors, cells = _theta_parts(res)
    hinv = getattr(g, "hinv", None)
    theta, lower = np.asarray(res.theta, float), np.asarray(res.model.lower, float)
    if fam.name != "ordinal":
        full = None
        if hinv is not None:
            V = (hinv[: nt + p, : nt + p] + hinv[: nt + p, : nt + p].T) / 2
            full = V if _usable(V, theta, lower) else None
        return PredictionModel(
            fam.name,
            fam.link.name,
            res.beta,
            res.vcov,
            sigmas,
            factors=factors,
            theta_cells=cells,
            vcov_full=full,
        )
    joint = full = None
    if hinv is not None:
        extra = np.asarray(res.optsum.theta_end[nt + p :], float)
        J = np.eye(nt + p + len(extra))
        J[nt + p :, nt + p :] = fam.thresholds_jacobian(extra)
        V = J @ hinv @ J.T
        V = (V + V.T) / 2
        joint = V[nt:, nt:]
        full = V if _usable(V, theta, lower) else None
    return PredictionModel(
        "ordinal",
        fam.link.name,
        res.beta,
        res.vcov,
        sigmas,
        np.asarray(fam.alpha, float),
        joint,
        tuple(fam.categories),
        factors,
        cells,
        full,
    )


def model_variables(res) -> list[str]:
    """Data columns of the model's fixed and random parts (no response, no grouping factor), in
    the order they appear in the formula."""
    spec = res.model.design.spec.formula
    names = set(spec.fixed.columns)
    for r in spec.random:
        names |= set(r.lhs.columns)
    text = spec.formula
    rhs = text.split("~", 1)[-1]

    def pos(v: str) -> int:
        m = re.search(rf"(?<![\w.]){re.escape(v)}(?![\w.])", rhs)
        return m.start() if m else len(rhs)

    return sorted(names, key=lambda v: (pos(v), v))


def group_columns(res) -> list[str]:
    spec = res.model.design.spec.formula

    out: list[str] = []
    for r in spec.random:
        for leaf in r.leaves:
            out += [c for c in walk_names(leaf) if c not in out]
    return out


# --------------------------------------------------------------------------- the grid
def is_categorical(x: pd.Series) -> bool:
    if isinstance(x.dtype, pd.CategoricalDtype) or x.dtype == object or x.dtype == bool:
        return True
    vals = pd.unique(x.dropna())
    return len(vals) <= 2 and set(np.asarray(vals, float)) <= {0.0, 1.0}


def levels_of(x: pd.Series) -> list:
    if isinstance(x.dtype, pd.CategoricalDtype):
        return list(x.cat.categories)
    return sorted(pd.unique(x.dropna()).tolist())


def _mean_sd(x: pd.Series, codes: np.ndarray | None) -> tuple[float, float]:
    v = x.to_numpy(float)
    if codes is not None:
        per = pd.Series(v).groupby(codes).agg(["min", "max", "mean"])
        if np.allclose(per["min"], per["max"]):  # constant within clusters: over clusters
            v = per["mean"].to_numpy()
    return float(np.mean(v)), float(np.std(v, ddof=1))


def variable_values(data: pd.DataFrame, variables: list[str], codes=None) -> dict[str, dict]:
    """Per variable: ``{"type", "values" (default grid values), "typical"}``."""
    out = {}
    for v in variables:
        x = data[v]
        if is_categorical(x):
            lv = levels_of(x)
            out[v] = {"type": "categorical", "values": lv, "typical": lv[0]}
        else:
            m, s = _mean_sd(x, codes)
            out[v] = {"type": "continuous", "values": [m - s, m, m + s], "typical": m}
    return out


def build_grid(
    data: pd.DataFrame, variables: list[str], at: dict | None = None, codes=None
) -> tuple[pd.DataFrame, str | None]:
    """The prediction grid (see the module docstring) and a note when it was reduced."""
    info = variable_values(data, variables, codes)
    note = None
    if at:
        unknown = sorted(set(at) - set(variables))
        if unknown:
            raise PlanError(
                f"report.predictions.at: {', '.join(unknown)} not a variable of the final model "
                f"(its variables: {', '.join(variables)})"
            )
        values = {v: [info[v]["typical"]] for v in variables}
        for v, vals in at.items():
            if info[v]["type"] == "categorical":
                known = {str(x): x for x in info[v]["values"]}
                bad = [x for x in vals if str(x) not in known]
                if bad:
                    raise PlanError(
                        f"report.predictions.at.{v}: unknown level(s) {bad}; levels: "
                        f"{', '.join(map(str, info[v]['values']))}"
                    )
                vals = [known[str(x)] for x in vals]
            values[v] = list(vals)
    else:
        values = {v: list(info[v]["values"]) for v in variables}
        cont = [v for v in variables if info[v]["type"] == "continuous"]
        if int(np.prod([len(x) for x in values.values()])) > MAX_DEFAULT_ROWS:
            held = cont[2:]
            for v in held:
                values[v] = [info[v]["typical"]]
            note = f"held at their means to keep the default grid small: {', '.join(held)}"
    rows = list(itertools.product(*values.values()))
    grid = pd.DataFrame(rows, columns=list(values))
    for v in variables:
        if isinstance(data[v].dtype, pd.CategoricalDtype):
            grid[v] = pd.Categorical(grid[v], categories=data[v].cat.categories)
    return grid, note


# --------------------------------------------------------------------------- predictions
def _design_rows(res, newdata: pd.DataFrame, data: pd.DataFrame | None):
    nd = newdata.copy()
    for g in group_columns(res):
        if g not in nd.columns:  # cluster IDs are not used: modes are looked up by label below
            nd[g] = data[g].iloc[0] if data is not None else res.model.reterms[0].term.levels[0]
    m = res.model
    X, _, Zs, off = new_data_matrices(m.design, nd)
    glmm = getattr(res, "glmm", None)  # ordinal: the inner model's design has no intercept
    full = list((glmm.design if glmm is not None else m.design).fixed_names)
    keep = [full.index(nm) for nm in m.fixed_names]
    X = np.asarray(X, float)[:, keep]
    terms = list(m.design.re_terms)
    Z = [
        np.asarray(Zs[next(j for j, t in enumerate(terms) if t is r.term)], float)
        for r in m.reterms
    ]
    return X, Z, off


def _cluster_parts(res, Z: list[np.ndarray], group: str, label: str):
    """``z'b_j`` and ``z' C_j z`` of cluster ``label`` of grouping factor ``group``."""
    modes, cv = res.ranef_arrays(), res.condvar()
    shift = np.zeros(Z[0].shape[0])
    var = np.zeros_like(shift)
    found = False
    for r, Zr in zip(res.model.reterms, Z, strict=True):
        if r.term.group != group:
            continue
        levels = [str(x) for x in r.term.levels]
        if str(label) not in levels:
            raise PlanError(
                f"report.predictions.clusters: {group} {label!r} is not a cluster of the fit"
            )
        j = levels.index(str(label))
        found = True
        shift += Zr @ modes[r.name][j]
        if cv is not None:
            var += np.einsum("ia,ab,ib->i", Zr, cv[r.name][j], Zr)
    if not found:
        raise PlanError(f"report.predictions.clusters: {group!r} is not a grouping factor")
    return shift, var


def predict_at(
    res,
    newdata: pd.DataFrame,
    clusters: dict[str, list] | None = None,
    alpha: float = 0.05,
    data: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Long table of predictions at the rows of ``newdata``: ``kind`` is ``conditional`` (typical
    cluster, b = 0), ``population-averaged``, or ``cluster`` (with ``cluster`` = ``group=label``);
    columns ``eta``, ``se_eta``, ``sd_random``, ``fit``, ``low``, ``high`` (ordinal: one row per
    category, ``category``; no ``se_eta``)."""
    pm = prediction_model(res)
    X, Z, off = _design_rows(res, newdata, data)
    s = random_sd(Z, pm.sigmas)
    ds = random_sd_jacobian(Z, pm)
    cases = [("conditional", None, 0.0, None, None), ("population-averaged", None, s, None, None)]
    for group, labels in (clusters or {}).items():
        for lab in labels:
            sh, var = _cluster_parts(res, Z, group, lab)
            cases.append(("cluster", f"{group}={lab}", 0.0, sh, var))
    frames = []
    cov = newdata.reset_index(drop=True)
    for kind, cl, sd, shift, var in cases:
        if pm.family == "ordinal":
            r = category_probabilities(
                pm, X, sd, shift=shift, extra_var=var, alpha=alpha, ds_dtheta=ds
            )
            for k, cat in enumerate(pm.categories):
                f = cov.copy()
                f["category"] = (  # labels of an ordered-Categorical response stay text
                    cat if isinstance(cat, str) else int(cat) if float(cat).is_integer() else cat
                )
                f["kind"], f["cluster"] = kind, cl
                f["eta"], f["sd_random"] = r["eta"], r["sd_random"]
                for c in ("fit", "low", "high", "link_fit", "link_se"):
                    f[c] = r[c][:, k]
                frames.append(f)
            continue
        r = mean_response(
            pm, X, sd, offset=off, shift=shift, extra_var=var, alpha=alpha, ds_dtheta=ds
        )
        f = cov.copy()
        f["kind"], f["cluster"] = kind, cl
        for c in ("eta", "se_eta", "sd_random", "fit", "low", "high", "link_fit", "link_se"):
            f[c] = r[c]
        frames.append(f)
    return pd.concat(frames, ignore_index=True)
