"""Apply one specification of the multiverse: data handling choices, formula, estimator, focal check.

Order of the data choices (as in the main DAG): missing-data method -> outlier handling (drop the
clusters flagged once by :mod:`mlmpipe.sensitivity.influence`) -> centering. The centering choice
rewrites the column the base model uses for the predictor (e.g. ``cses``), so the focal term keeps
its name across specifications:

* ``group``: ``x - mean_j(x)`` (the within-cluster deviation; Enders & Tofighi 2007, Psychol.
  Methods 12(2));
* ``grand``: ``x - mean(x)`` over level-1 units;
* ``none``: raw ``x``.

The cluster mean (``meanses``) stays in the model whenever the base model has it, so under grand or
no centering its coefficient is the contextual (between minus within) effect rather than the
between effect (Kreft, de Leeuw & Aiken 1995, Multivariate Behav. Res. 30(1)).

The ``missing`` options ``imputation`` and ``delta`` (multiple imputation, pooled by Rubin's
rules, and its delta-adjusted MNAR variant) are registered by :mod:`mlmpipe.missing.multiverse`.
A specification that cannot be estimated, or asks for a method mlmpipe does not have, is
recorded with ``status: failed`` and the reason; the other specifications go on. In a
non-gaussian plan a choice without meaning for the family (REML, Kenward-Roger, the linear panel
estimators, ...) is recorded with ``status: not_applicable`` and the reason, and nothing is fitted
(:mod:`mlmpipe.sensitivity.families`). A focal parameter that is not a term of a specification's model is a plan error naming the parameter and
the specification.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from mlmpipe.centering import apply_centering, fit_centering
from mlmpipe.errors import PlanError, SpecificationUnavailable
from mlmpipe.formula.edit import formula_from, random_intercepts_only, uncorrelated
from mlmpipe.missing import multiverse
from mlmpipe.missing.rubin import pool_scalar
from mlmpipe.plan.applicability import not_applicable
from mlmpipe.sensitivity.alternatives import ESTIMATORS
from mlmpipe.sensitivity.families import ESTIMATORS as GLM_ESTIMATORS

# --------------------------------------------------------------------------- missing-data hook


def listwise(
    df: pd.DataFrame, variables: list[str], seed: int, spec: dict | None = None
) -> list[pd.DataFrame]:
    """Complete cases on the variables the model uses (one data set)."""
    out = df.dropna(subset=variables).reset_index(drop=True)
    if out.empty:
        raise SpecificationUnavailable(f"no complete rows on {', '.join(variables)}")
    return [out]


#: Missing-data methods: name -> function(data, variables, seed, missing spec) returning completed
#: data sets (``variables``: outcome, cluster ID, raw predictors; the spec is the definition's
#: ``missing`` entry, present for imputation specifications). More than one data set is analysed
#: separately and pooled by Rubin's rules. ``imputation`` and ``delta`` come from
#: :mod:`mlmpipe.missing.multiverse`; :func:`register_missing_method` adds others.
MISSING_METHODS: dict[str, Callable[[pd.DataFrame, list[str], int], list[pd.DataFrame]]] = {
    "listwise": listwise,
    "imputation": multiverse.imputation,
    "delta": multiverse.delta,
}


def register_missing_method(name: str, fn: Callable) -> None:
    """Make a missing-data method available to the multiverse (see :data:`MISSING_METHODS`)."""
    MISSING_METHODS[name] = fn


def _raw_variables(d: dict) -> list[str]:
    """Raw data columns behind the model's terms (``cses`` and ``meanses`` come from ``ses``)."""
    names = d["center"]["names"]
    derived = {}
    for lv in d["center"]["levels"]:
        for var in lv["predictors"]:
            derived[var] = var
            derived[names["centered_name"].format(name=var)] = var
            derived[names["cluster_mean_name"].format(name=var)] = var
    out = [d["outcome"], d["cluster"]]
    for term in d["fixed"]:
        for part in term.split(":"):
            v = derived.get(part.strip(), part.strip())
            if v not in out:
                out.append(v)
    return out


# --------------------------------------------------------------------------- data preparation


def center(df: pd.DataFrame, d: dict) -> pd.DataFrame:
    """The plan's centering, then each varied predictor's column as the specification chooses."""
    varied = {k.split(".", 1)[1]: v for k, v in d["choices"].items() if k.startswith("centering.")}
    cspec = copy.deepcopy(d["center"])
    for var in varied:
        cspec["levels"][0]["predictors"][var] = "group"
    out = apply_centering(df, fit_centering(df, cspec))
    for var, method in varied.items():
        col, mean_col = d["columns"][var]["column"], d["columns"][var]["cluster_mean"]
        x = df[var].astype(float)
        if method == "group":
            out[col] = x - out[mean_col]
        elif method == "grand":
            out[col] = x - x.mean()
        else:
            out[col] = x
    return out


def prepare(df: pd.DataFrame, d: dict, influence: dict | None, seed: int = 0) -> list[pd.DataFrame]:
    """Missing-data method -> drop flagged clusters -> centering; returns the analysed data sets."""
    method = d["choices"]["missing"]
    if method not in MISSING_METHODS:
        raise SpecificationUnavailable(
            f"missing-data method {method!r} is not available (available: "
            f"{', '.join(MISSING_METHODS)})"
        )
    sets = MISSING_METHODS[method](df, _raw_variables(d), seed, d.get("missing"))
    if d["choices"]["outliers"] == "drop_influential":
        if influence is None:
            raise SpecificationUnavailable("outliers=drop_influential needs the influence artifact")
        flagged = {str(c) for c in influence["flagged"]}
        sets = [s[~s[d["cluster"]].astype(str).isin(flagged)].reset_index(drop=True) for s in sets]
    return [center(s, d) for s in sets]


def formula(d: dict) -> str:
    """lme4 formula of the specification: the base model ``outcome ~ 1 + fixed + (1 + slopes |
    cluster)`` with the ``random`` choice applied to its parsed spec (``slopes``: as is;
    ``intercept`` or none: random intercepts only; ``uncorrelated``: ``||``)."""
    choice = d["choices"].get("random", "-")
    slopes = d["slopes"]
    base = formula_from(d["outcome"], ["1", *d["fixed"]], [(["1", *slopes], d["cluster"])])
    if choice in ("intercept", "-"):
        return random_intercepts_only(base).formula
    if not slopes:
        raise SpecificationUnavailable(
            f"random={choice}: the base model {d['model']!r} has no random slopes"
        )
    if choice == "uncorrelated":
        return uncorrelated(base).formula  # a bar with slopes always has more than one effect
    return base.formula


# --------------------------------------------------------------------------- estimation


def fit_mlm(data: pd.DataFrame, f: str, d: dict) -> tuple[pd.DataFrame, dict]:
    """Our engine: REML or ML, Satterthwaite or Kenward-Roger df (the schema's options); a
    non-gaussian plan's specification is a GLMM with the plan's family, link and nagq, by ML
    (:mod:`mlmpipe.sensitivity.families`). Non-convergence and singular fits follow the plan's
    registered ladder (:func:`mlmpipe.ladder.fit_with_ladder`)."""
    from mlmpipe.ladder import fit_with_ladder  # not at top: would add ladder.py to rules' codedeps

    glmm = d.get("glmm")
    if glmm:
        reml, kwargs = False, {**glmm, "alpha": d["alpha"]}
    else:
        reml = d["choices"]["estimator"] == "reml"
        kwargs = {"df_method": d["choices"]["df"], "alpha": d["alpha"]}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lad = fit_with_ladder(  # the plan's registered convergence ladder, as for the main fits
            f, data, reml=reml, convergence=d.get("convergence"), fit_kwargs=kwargs
        )
    res = lad.result
    msgs = list(
        dict.fromkeys(
            [*res.warnings, *lad.caught, *(str(w.message).splitlines()[0] for w in caught)]
        )
    )
    extra = {
        "nobs": int(res.nobs),
        "nclusters": int(next(iter(res.ngroups.values()))),
        "converged": bool(res.converged),
        "singular": bool(res.singular),
        "warnings": msgs,
        "random": res.varcorr().astype(object).where(lambda t: t.notna(), None).to_dict("records"),
        "ladder": lad.to_dict(),
    }
    return res.fixed_table(), extra


def _estimate(data: pd.DataFrame, f: str, d: dict) -> tuple[pd.DataFrame, dict]:
    method = d["choices"]["method"]
    if method == "mlm":
        return fit_mlm(data, f, d)
    if d.get("glmm"):
        return GLM_ESTIMATORS[method](data, f, d)
    return ESTIMATORS[method](data, f, d)


def rubin(tables: list[pd.DataFrame], alpha: float = 0.05) -> pd.DataFrame:
    """Pool per-imputation estimates by Rubin's rules (Rubin 1987): T = W + (1 + 1/m) B, with
    Barnard & Rubin (1999) df from the mean complete-data df of the tables
    (:func:`mlmpipe.missing.rubin.pool_scalar`; infinite when a method reports none)."""
    if len(tables) == 1:
        return tables[0]
    est = np.vstack([t["estimate"].to_numpy(float) for t in tables])
    var = np.vstack([t["se"].to_numpy(float) ** 2 for t in tables])
    dfs = np.vstack([pd.to_numeric(t["df"], errors="coerce").to_numpy(float) for t in tables])
    dfcom = np.where(np.isfinite(dfs).all(0), dfs.mean(0), np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = pool_scalar(est, var, dfcom, alpha)
    cols = ["estimate", "se", "df", "p", "ci_low", "ci_high", "fmi"]
    return pd.DataFrame({"term": tables[0]["term"], **{c: pooled[c] for c in cols}})


def _records(table: pd.DataFrame) -> list[dict]:
    cols = ["term", "estimate", "se", "df", "p", "ci_low", "ci_high"]
    t = table[cols + (["fmi"] if "fmi" in table else [])].copy()
    t["df"] = t["df"].astype(float).replace(np.inf, None)
    return t.astype(object).where(t.notna(), None).to_dict("records")


def run_specification(data: pd.DataFrame, d: dict, influence: dict | None = None) -> dict:
    """Estimate one specification; failures are recorded with their reason, not raised.

    ``d`` is :meth:`SensitivityPlan.definition` of the specification. Raises :class:`PlanError`
    only when a focal parameter is not a term of the specification's model.
    """
    out = {"id": d["id"], "choices": d["choices"], "focal": list(d["focal"]), "status": "ok"}
    reason = not_applicable(d["choices"], d.get("glmm"))
    if reason is not None:  # a choice without meaning for the plan's family
        return {**out, "status": "not_applicable", "reason": reason}
    try:
        f = formula(d)
        out["formula"] = f
        sets = prepare(data, d, influence, seed=d.get("seed", 0))
        results = [_estimate(s, f, d) for s in sets]
        table = rubin([r[0] for r in results], d["alpha"])
        out.update(results[0][1])
        if len(sets) > 1:  # nobs etc. above are the first imputation's
            out["imputations"] = len(sets)
        out["fixed"] = _records(table)
    except SpecificationUnavailable as exc:
        out.update(status="failed", reason=str(exc))
    except PlanError:
        raise
    except Exception as exc:  # any numerical failure: this specification cannot be estimated
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        out.update(status="failed", reason=f"{type(exc).__name__}: {first}")
    if out["status"] == "ok":
        terms = [r["term"] for r in out["fixed"]]
        dropped = out.get("not_identified", [])
        for name in d["focal"]:
            if name in dropped:
                out.update(
                    status="failed",
                    reason=f"focal parameter {name!r} is not identified by method {d['choices']['method']!r}",
                )
            elif name not in terms:
                raise PlanError(
                    f"sensitivity.focal: {name!r} is not a parameter of specification {d['id']} "
                    f"({out['formula']}); its terms are {', '.join(terms)}"
                )
    return out
