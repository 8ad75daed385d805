"""Estimate one specification of the multiverse: its variant plan through the main steps.

A specification is the plan variant ``plan.with_choices(**choices)`` (:mod:`mlmpipe.plan.variants`),
and its job calls the step functions of the main analysis on that variant's slices, in the main
DAG's order:

1. missing data (:func:`mlmpipe.steps.data.missing_step`): complete cases on the plan's variables,
   or the plan's multilevel multiple imputation (``imputation``; ``m`` = the plan's, else
   :data:`mlmpipe.plan.multiverse.MULTIVERSE_M`), or those imputations with the imputed outcome
   shifted by the plan's most extreme ``missing.delta.grid`` value (``delta``; a pattern-mixture
   MNAR scenario, van Buuren 2018, sec. 3.8; :mod:`mlmpipe.missing.multiverse`);
2. outlier handling: the clusters of the highest level flagged once by
   :mod:`mlmpipe.sensitivity.influence` are dropped (``outliers: drop_influential``);
3. centering (:func:`~mlmpipe.steps.data.centering_state_step`, per data set): the variant's
   centering of each predictor, written to the column the model uses, so the focal term keeps its
   name; the cluster mean stays in the model, so under grand or no centering its coefficient is
   the contextual effect (Kreft, de Leeuw & Aiken 1995; Enders & Tofighi 2007);
4. estimation: the mixed model by :func:`mlmpipe.steps.models.fit_step` (the variant's formula,
   estimator, df method, GLMM family and convergence ladder; one random structure for all
   imputations, :func:`~mlmpipe.steps.models.fit_imputations`), pooled over imputations by
   :func:`~mlmpipe.steps.models.pool_step` (Rubin 1987; Barnard & Rubin 1999 df), or an alternative
   estimator (:mod:`mlmpipe.sensitivity.alternatives`, :mod:`mlmpipe.sensitivity.families`) whose
   per-imputation tables are pooled by the same Rubin's rules.

So the primary specification reproduces the main analysis's fit of the same model exactly, and a
specification of a three-level or an imputed plan needs nothing the main analysis does not have.
A specification that cannot be estimated is recorded with ``status: failed`` and the reason; the
others go on. A choice without meaning for the family is recorded with ``status: not_applicable``
(:mod:`mlmpipe.plan.applicability`). A focal parameter that is not a term of a specification's
model is a plan error naming the parameter and the specification.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from mlmpipe.errors import MlmpipeError, PlanError, SpecificationUnavailable
from mlmpipe.missing.multiverse import shift_imputed_outcome
from mlmpipe.missing.rubin import pool_scalar
from mlmpipe.plan.multiverse import SpecSlice
from mlmpipe.record import FitRecord
from mlmpipe.sensitivity.alternatives import ESTIMATORS
from mlmpipe.sensitivity.families import ESTIMATORS as GLM_ESTIMATORS
from mlmpipe.steps.data import center_step, centering_state_step, missing_step
from mlmpipe.steps.models import fit_imputations, pool_step

_FIXED = ["term", "estimate", "se", "df", "p", "ci_low", "ci_high"]


def prepare(
    data: pd.DataFrame,
    s: SpecSlice,
    influence: dict | None = None,
    completed: list[pd.DataFrame] | None = None,
) -> list[pd.DataFrame]:
    """The analysed data sets of a specification: missing-data step -> drop the flagged clusters
    -> centering -> (``missing: delta``) the shift of the imputed outcome, each step the main
    analysis's. ``completed``: the main missing step's data sets (0..m) when the specification's
    missing-data handling is the plan's own (:func:`mlmpipe.sensitivity.grid.shared_datasets`)."""
    if completed is not None:
        sets = list(completed)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the missing-data report is the main analysis's
            try:
                sets, _report = missing_step(data, s.missing, s.validate)
            except MlmpipeError as exc:
                raise SpecificationUnavailable(str(exc)) from None
    if s.missing.missing.imputes:
        sets = sets[1:]  # data set 0 is the observed data; 1..m are the imputations
    if s.drops_influential:
        if influence is None:
            raise SpecificationUnavailable("outliers=drop_influential needs the influence artifact")
        flagged = {str(c) for c in influence["flagged"]}
        sets = [d[~d[s.cluster].astype(str).isin(flagged)].reset_index(drop=True) for d in sets]
    sets = [center_step(d, centering_state_step(d, s.center)) for d in sets]
    if s.choices.get("missing") == "delta":  # as the main delta analysis: on the centred sets
        glmm = s.fit.glmm.to_dict() if s.fit.glmm else None
        delta = s.missing.missing.delta.grid[0]
        sets = shift_imputed_outcome(
            sets, s.validate.outcome, delta, s.fit.formula, glmm, s.missing.seed
        )
    return sets


def rubin(tables: list[pd.DataFrame], alpha: float = 0.05) -> pd.DataFrame:
    """Pool the per-imputation tables of an alternative estimator by Rubin's rules (Rubin 1987):
    T = W + (1 + 1/m) B, Barnard & Rubin (1999) df from the mean complete-data df of the tables
    (:func:`mlmpipe.missing.rubin.pool_scalar`, the pooling of the mixed-model fits; infinite
    when a method reports none)."""
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
    t = table[_FIXED + (["fmi"] if "fmi" in table else [])].copy()
    t["df"] = t["df"].astype(float).replace(np.inf, None)
    return t.astype(object).where(t.notna(), None).to_dict("records")


def _mixed_model(sets: list[pd.DataFrame], s: SpecSlice) -> tuple[pd.DataFrame, dict]:
    records = [rec for rec, _ in fit_imputations(sets, s.fit)]
    rec: FitRecord = pool_step(records, s.alpha) if len(records) > 1 else records[0]
    table = rec.fixed_frame()
    if rec.is_pooled and "fmi" not in table:
        table = table.assign(fmi=np.nan)
    first = records[0]
    random = first.random_frame() if len(records) == 1 else rec.random_frame()
    extra = {
        "nobs": int(first.nobs),
        "nclusters": int(sets[0][s.cluster].nunique()),  # of the highest level, as analysed
        "converged": bool(rec.converged),
        "singular": bool(rec.singular),
        "warnings": list(dict.fromkeys(w for r in records for w in r.warnings)),
        "random": random.astype(object).where(random.notna(), None).to_dict("records"),
        "ladder": dict(first.ladder) if first.ladder else None,
    }
    return table, extra


def _alternative(sets: list[pd.DataFrame], s: SpecSlice) -> tuple[pd.DataFrame, dict]:
    ctx = {"alpha": s.alpha, "glmm": s.fit.glmm.to_dict() if s.fit.glmm else None}
    pick = GLM_ESTIMATORS if s.fit.glmm is not None else ESTIMATORS
    results = [pick[s.method](d, s.alternative, ctx) for d in sets]
    return rubin([r[0] for r in results], s.alpha), results[0][1]


def run_specification(
    data: pd.DataFrame,
    spec: SpecSlice | str | dict,
    influence: dict | None = None,
    completed: list[pd.DataFrame] | None = None,
) -> dict:
    """Estimate one specification (``spec``: :func:`mlmpipe.plan.spec_slice`) on the
    validated data (or on the main missing step's data sets ``completed``, see :func:`prepare`);
    failures are recorded with their reason, not raised. Raises :class:`PlanError` only when a
    focal parameter is not a term of the specification's model."""
    s = SpecSlice.decode(spec)
    out = {"id": s.id, "choices": dict(s.choices), "focal": list(s.focal), "status": "ok"}
    if s.not_applicable is not None:  # a choice without meaning for the plan's family
        return {**out, "status": "not_applicable", "reason": s.not_applicable}
    if s.unavailable is not None:
        return {**out, "status": "failed", "reason": s.unavailable}
    out["formula"] = s.fit.formula if s.method == "mlm" else s.alternative
    try:
        sets = prepare(data, s, influence, completed)
        table, extra = (_mixed_model if s.method == "mlm" else _alternative)(sets, s)
        out.update(extra)
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
        _check_focal(out, s)
    return out


def _check_focal(out: dict, s: SpecSlice) -> None:
    terms = [r["term"] for r in out["fixed"]]
    dropped = out.get("not_identified", [])
    for name in s.focal:
        if name in dropped:
            out.update(
                status="failed",
                reason=f"focal parameter {name!r} is not identified by method {s.method!r}",
            )
        elif name not in terms:
            raise PlanError(
                f"sensitivity.focal: {name!r} is not a parameter of specification {s.id} "
                f"({out['formula']}); its terms are {', '.join(terms)}"
            )
