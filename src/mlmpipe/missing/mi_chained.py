"""Multilevel multiple imputation by chained equations (two- and three-level data).

Each of the ``m`` imputations is an independent chain seeded from the plan's seed
(``numpy.random.SeedSequence(seed).spawn(m)``). A chain starts from random draws of the observed
values and runs ``iterations`` sweeps; a sweep visits every incomplete variable once, level-2
variables first, then level-1 predictors, then the outcome:

* level-1 continuous variable ``x``: random-intercept model (:func:`~mlmpipe.missing.mi_models.draw_2l_norm`)
  with predictors the other level-1 variables, their cluster means, the level-2 variables, and the
  products that enter the analysis models (a cross-level interaction ``x:z`` enters the outcome's
  model as ``x*z`` and the model of ``x`` as ``y*z``). Including the cluster means is what keeps
  the within- and between-cluster relations apart (Enders, Mistler & Keller 2016; mice's 2l.pmm
  / 2l.pan with ``type = 3``).
* level-1 binary variable: the same model fitted to the 0/1 codes, values by predictive mean matching.
* level-2 variable ``z``: one row per cluster (mice's ``2lonly``) with predictors the other level-2
  variables and the cluster means of every level-1 variable, outcome included; continuous by a
  Bayesian linear regression draw, binary by predictive mean matching on it.
* categorical variable with more than two categories, at any level: latent-normal model
  (random-intercept cumulative probit for ``ordered`` variables, multinomial probit with one
  random-intercept latent per non-reference category otherwise; :mod:`~mlmpipe.missing.mi_categorical`,
  Enders, Keller & Levy 2018); imputed columns keep their categories and order.
* three-level data (``cluster3``, ``level3``): every variable is imputed on the units of its level
  with random intercepts for each higher level and the means of the lower-level variables at each
  higher level (:mod:`~mlmpipe.missing.mi_three_level`); level-3 variables by the single-level draw.

Random slopes: the imputation models have random intercepts only. Following Grund, Lüdtke &
Robitzsch (2018), with missing values in the outcome only a random-intercept model with cluster
means is close to unbiased for the fixed effects but shrinks a slope variance toward zero; with
missing predictors that carry random slopes no chained-equation method is unbiased for the slope
variance. The report states this next to the pooled random-slope variances (see README).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.linalg import qr

from mlmpipe.errors import DataValidationError, EstimationError
from mlmpipe.missing.mi_categorical import draw_categorical
from mlmpipe.missing.mi_methods import is_multicat as _multicat
from mlmpipe.missing.mi_methods import model_name as _model_name
from mlmpipe.missing.mi_methods import new_state as _new_state
from mlmpipe.missing.mi_models import draw_2l_norm, draw_norm, pmm
from mlmpipe.missing.mi_three_level import (
    build_hierarchy,
    draw_ml_norm,
    random_part,
)
from mlmpipe.progress import progress

FLAG = "imputed_{name}"


@dataclass(frozen=True)
class ImputationSpec:
    """What to impute and how. ``level1`` / ``level2``: ``{name: (type, categories or None)}``;
    the outcome is a level-1 continuous variable listed in ``level1``. Three-level data: ``cluster3``
    is the level-3 ID and ``level3`` its variables. ``ordered``: categorical variables whose
    categories are ordered (cumulative probit instead of multinomial probit)."""

    outcome: str
    cluster: str
    level1: dict
    level2: dict
    ids: tuple[str, ...] = ()
    interactions: tuple[tuple[str, str], ...] = ()
    m: int = 20
    iterations: int = 20
    seed: int = 20240101
    donors: int = 5
    order: tuple[str, ...] = field(default=(), compare=False)
    cluster3: str | None = None
    level3: dict = field(default_factory=dict)
    ordered: tuple[str, ...] = ()


@dataclass
class _Var:
    name: str
    level: int  # 1, 2 or 3
    kind: str  # continuous | binary | categorical
    categories: list | None
    values: np.ndarray  # numeric codes, one per unit of the variable's level
    obs: np.ndarray
    ordered: bool = False

    def expand(self) -> tuple[list[str], np.ndarray]:
        """Predictor columns: the value, or k-1 indicators for a categorical variable."""
        if self.kind != "categorical":
            return [self.name], self.values[:, None]
        k = len(self.categories)
        cols = [f"{self.name}[{c}]" for c in self.categories[1:]]
        return cols, np.stack([(self.values == j).astype(float) for j in range(1, k)], axis=1)


def _encode(col: pd.Series, kind: str, categories) -> tuple[np.ndarray, list | None]:
    if kind == "continuous":
        return pd.to_numeric(col).to_numpy(dtype=float), None
    cat = col if isinstance(col.dtype, pd.CategoricalDtype) else col.astype("category")
    if categories is not None:
        cat = pd.Categorical(col.astype(object), categories=list(categories))
    codes = np.asarray(pd.Categorical(cat).codes, dtype=float)
    codes[codes < 0] = np.nan
    return codes, list(pd.Categorical(cat).categories)


def _setup(df: pd.DataFrame, spec: ImputationSpec):
    for name in list(spec.level1) + list(spec.level2) + list(spec.level3):
        if name in spec.ids or name in (spec.cluster, spec.cluster3):
            raise DataValidationError(
                f"missing: {name!r} is an ID column; ID columns define the clusters and cannot be "
                "imputed"
            )
    if df[spec.cluster].isna().any():
        raise DataValidationError(
            f"missing: ID column {spec.cluster!r} has {int(df[spec.cluster].isna().sum())} missing "
            "value(s); IDs cannot be imputed"
        )
    H = build_hierarchy(df, (spec.cluster,) + ((spec.cluster3,) if spec.cluster3 else ()))
    vars_: list[_Var] = []
    for level, block in ((3, spec.level3), (2, spec.level2), (1, spec.level1)):
        for name, (kind, cats) in block.items():
            x, cats = _encode(df[name], kind, cats)
            if level > 1:  # one value per unit: the first observed one
                x = pd.Series(x).groupby(H.up[(1, level)]).first().to_numpy() if len(x) else x
            obs = ~np.isnan(x)
            if not obs.any():
                raise DataValidationError(
                    f"missing: variable {name!r} is entirely missing; it cannot be imputed (drop "
                    "it from the plan)"
                )
            if kind != "continuous" and not obs.all():
                empty = [c for j, c in enumerate(cats) if not (x[obs] == j).any()]
                if empty:
                    raise DataValidationError(
                        f"missing: categorical variable {name!r} has category(ies) "
                        f"{', '.join(map(repr, empty))} that occur nowhere in the observed data; its "
                        "imputation model cannot be estimated (drop or merge the category in the "
                        "plan's levels)"
                    )
            if name in spec.ordered and kind != "categorical":
                raise DataValidationError(
                    f"missing.ordered: {name!r} is {kind}; only categorical variables can be ordered"
                )
            dtype = df[name].dtype
            ordered = name in spec.ordered or bool(getattr(dtype, "ordered", False))
            vars_.append(_Var(name, level, kind, cats, x, obs, ordered))
    return vars_, H


def _design(
    target: _Var, vars_: list[_Var], H, spec, covariates_only: bool = False
) -> tuple[list, np.ndarray]:
    """Named predictor columns of ``target``'s imputation model from the current values
    (``covariates_only``: without the outcome, the covariate model of substantive-model-compatible
    imputation): variables at or above the target's level as they are, lower-level variables as
    their means at the target's level, and each variable's means at every level above both
    (``mean(x)`` at level 2, ``mean3(x)`` at level 3)."""
    t = target.level
    names, cols = ["(Intercept)"], [np.ones((H.sizes[t - 1], 1))]
    by = {v.name: v for v in vars_}
    for v in vars_:
        if v is target or (covariates_only and v.name == spec.outcome):
            continue
        nm, a = v.expand()
        if v.level < t:
            names += [f"mean({c})" if t == 2 else f"mean{t}({c})" for c in nm]
            cols.append(H.means(a, v.level, t))
        else:
            names += nm
            cols.append(H.down(a, v.level, t))
        for h in range(max(v.level, t) + 1, H.L + 1):
            names += [f"mean({c})" if h == 2 else f"mean{h}({c})" for c in nm]
            cols.append(H.down(H.means(a, v.level, h), h, t))
    if target.level == 1:
        for a, b in spec.interactions:
            if target.name not in (a, b):
                pair = (a, b)
            elif target.name != spec.outcome and not covariates_only:
                pair = (spec.outcome, b if a == target.name else a)
            else:
                continue
            va, vb = by[pair[0]], by[pair[1]]
            xa = H.down(va.values, va.level, 1)
            xb = H.down(vb.values, vb.level, 1)
            names.append(f"{pair[0]}*{pair[1]}")
            cols.append((xa * xb)[:, None])
    return names, np.hstack(cols)


def _select_columns(target: _Var, names: list, X: np.ndarray) -> np.ndarray:
    """Indices of a full-rank subset of predictors (pivoted QR on the observed rows)."""
    Xo = X[target.obs]
    n_obs = int(target.obs.sum())
    if np.ptp(target.values[target.obs]) == 0:
        raise EstimationError(
            f"missing: the imputation model for {target.name!r} cannot be estimated: its observed "
            "values are constant"
        )
    scale = np.where(Xo.std(axis=0) > 0, Xo.std(axis=0), 1.0)
    scale[0] = 1.0
    _, r, piv = qr(Xo / scale, mode="economic", pivoting=True)
    d = np.abs(np.diag(r))
    rank = int((d > d[0] * 1e-8).sum()) if len(d) else 0
    keep = np.sort(piv[:rank])
    if 0 not in keep:
        keep = np.sort(np.r_[0, keep[:-1]])
    if n_obs <= len(keep) + 1:
        raise EstimationError(
            f"missing: the imputation model for {target.name!r} cannot be estimated: {n_obs} "
            f"observed value(s) for {len(keep)} predictors"
        )
    return keep


def _fit_draw(v, vars_, H, spec, rng, states, keep_cols, dropped, covariates_only=False):
    """One parameter + value draw of ``v``'s imputation model; returns (draws, eta, beta)."""
    key = v.name + ("|covariates" if covariates_only else "")
    names, X = _design(v, vars_, H, spec, covariates_only)
    if key not in keep_cols:
        keep_cols[key] = _select_columns(v, names, X)
        dropped[key] = [names[i] for i in range(len(names)) if i not in keep_cols[key]]
    X = X[:, keep_cols[key]]
    groups = H.groups(v.level)
    try:
        if _multicat(v):
            draws, eta = draw_categorical(v.values, X, groups, v.obs, states[key], rng)
            return draws, eta, None
        if len(groups) == 1:
            return draw_2l_norm(v.values, X, groups[0], v.obs, states[key], rng)
        if groups:
            return draw_ml_norm(v.values, X, groups, v.obs, states[key], rng)
        draws, eta = draw_norm(v.values, X, v.obs, rng)
        return draws, eta, None
    except np.linalg.LinAlgError as exc:
        raise EstimationError(
            f"missing: the imputation model for {v.name!r} cannot be estimated ({exc})"
        ) from None


def _smc_draw(v, y, vars_, H, spec, rng, states, keep_cols, dropped, y_beta, max_rounds=100):
    """Substantive-model-compatible draw of a level-1 covariate in an interaction (Bartlett,
    Seaman, White & Carpenter 2015): the covariate model (random intercept, without the outcome)
    gets one parameter draw, then candidates from it are accepted with probability ``exp(-(y - eta_y(x*))^2 / (2 sigma_y^2))`` under the
    outcome's current model, which contains the products; rows with a missing outcome accept the
    candidate. Returns (draws, rows still unaccepted after ``max_rounds``)."""
    mis = np.flatnonzero(~v.obs)
    pending = np.ones(len(mis), bool)
    out = v.values[mis].copy()
    sig2 = states[y.name].sigma2
    _, eta_cov, _ = _fit_draw(v, vars_, H, spec, rng, states, keep_cols, dropped, True)
    sd_cov = np.sqrt(states[v.name + "|covariates"].sigma2)
    for _ in range(max_rounds):
        cand = eta_cov[mis] + sd_cov * rng.standard_normal(len(mis))
        trial = v.values.copy()
        trial[mis[pending]] = cand[pending]
        v.values, saved = trial, v.values
        _, X = _design(y, vars_, H, spec)
        v.values = saved
        eta = X[mis][:, keep_cols[y.name]] @ y_beta + random_part(states[y.name], H.groups(1), mis)
        yv = y.values[mis]
        logp = np.where(y.obs[mis], -((yv - eta) ** 2) / (2.0 * sig2), 0.0)
        acc = pending & (np.log(rng.random(len(mis))) < logp)
        out[acc] = cand[acc]
        pending &= ~acc
        if not pending.any():
            break
    out[pending] = cand[pending]
    return out, int(pending.sum())


def _run_chain(vars_, H, spec, rng, keep_cols, dropped, smc_log) -> list[dict]:
    trace = []
    incomplete = [v for v in vars_ if not v.obs.all()]
    y = next(v for v in vars_ if v.name == spec.outcome)
    in_products = {a for pair in spec.interactions for a in pair} - {spec.outcome}
    smc = {
        v.name
        for v in incomplete
        if v.level == 1 and v.kind == "continuous" and v.name in in_products
    }
    for v in incomplete:  # starting values: random draws of the observed values
        v.values = v.values.copy()
        v.values[~v.obs] = rng.choice(v.values[v.obs], size=int((~v.obs).sum()))
    states = {v.name: _new_state(v, H) for v in incomplete if v.level < H.L or _multicat(v)}
    for n in smc:
        states[f"{n}|covariates"] = _new_state(next(v for v in vars_ if v.name == n), H)
    visit = incomplete + ([y] if smc and y not in incomplete else [])
    if y.name not in states:
        states[y.name] = _new_state(y, H)
    order = sorted(visit, key=lambda v: (-v.level, v.name == spec.outcome))
    y_beta = None
    for it in range(spec.iterations):
        for v in order:
            if v.name in smc and y_beta is not None:
                draws, pending = _smc_draw(
                    v, y, vars_, H, spec, rng, states, keep_cols, dropped, y_beta
                )
                smc_log[v.name] = smc_log.get(v.name, 0) + pending
            else:
                draws, eta, beta = _fit_draw(v, vars_, H, spec, rng, states, keep_cols, dropped)
                if v is y:
                    y_beta = beta
                if v.kind != "continuous" and not _multicat(v):
                    draws = pmm(eta[v.obs], eta[~v.obs], v.values[v.obs], rng, spec.donors)
            if v.obs.all():
                continue
            v.values[~v.obs] = draws
            trace.append(
                {
                    "iteration": it + 1,
                    "variable": v.name,
                    "mean": float(draws.mean()),
                    "sd": float(draws.std(ddof=1)) if len(draws) > 1 else 0.0,
                }
            )
    return trace


def _decode(df: pd.DataFrame, vars_: list[_Var], H) -> pd.DataFrame:
    out = df.copy()
    for v in vars_:
        if v.obs.all():
            continue
        x = H.down(v.values, v.level, 1)
        miss = H.down(~v.obs, v.level, 1)
        if v.kind == "continuous":
            out[v.name] = x
        else:  # the original categories in their order (and ordered flag)
            ordered = bool(getattr(df[v.name].dtype, "ordered", False))
            out[v.name] = pd.Categorical.from_codes(
                x.astype(int), categories=v.categories, ordered=ordered
            )
        flag = FLAG.format(name=v.name)
        if flag in df.columns:
            raise DataValidationError(
                f"missing: flag column {flag!r} for imputed {v.name!r} already exists in the data"
            )
        out[flag] = miss & df[v.name].isna().to_numpy()
    return out


def impute_multilevel(df: pd.DataFrame, spec: ImputationSpec) -> tuple[list[pd.DataFrame], dict]:
    """Return ``spec.m`` completed copies of ``df`` (with ``imputed_<name>`` flag columns) and an
    info dict: per-variable imputation method and predictors, dropped collinear predictors, and the
    trace (mean and SD of the imputed values per chain and iteration) for convergence plots."""
    if spec.m < 2:
        raise DataValidationError(f"missing.m: multiple imputation needs m >= 2, got {spec.m}")
    base, H = _setup(df, spec)
    seeds = np.random.SeedSequence(spec.seed).spawn(spec.m)
    keep_cols: dict = {}
    dropped: dict = {}
    smc_log: dict = {}
    datasets, trace = [], []
    for i, ss in enumerate(progress(seeds, "imputation chains")):  # terminal, not the log
        vars_ = [
            _Var(v.name, v.level, v.kind, v.categories, v.values, v.obs, v.ordered) for v in base
        ]
        rows = _run_chain(vars_, H, spec, np.random.default_rng(ss), keep_cols, dropped, smc_log)
        trace += [r | {"imputation": i + 1} for r in rows]
        datasets.append(_decode(df, vars_, H))
    methods = {}
    for v in base:
        if v.obs.all():
            continue
        model = _model_name(v, H.L)
        if v.name in smc_log:
            model += ", substantive-model-compatible (rejection sampling under the outcome model)"
        methods[v.name] = {
            "level": v.level,
            "type": v.kind,
            "model": model,
            "n_missing": int((~v.obs).sum()),
            "dropped_predictors": dropped.get(v.name, []),
        }
        if v.name in smc_log:
            methods[v.name]["smc_unaccepted_draws"] = smc_log[v.name]
    info = {
        "m": spec.m,
        "iterations": spec.iterations,
        "seed": spec.seed,
        "cluster": spec.cluster,
        "clusters": H.sizes[1],
        "cluster3": spec.cluster3,
        "levels": H.L,
        "units_per_level": list(H.sizes),
        "interactions": [list(p) for p in spec.interactions],
        "methods": methods,
        "trace": trace,
        "random_slopes": "random-intercept imputation models (Grund, Ludtke & Robitzsch 2018)",
    }
    return datasets, info
