"""Model steps: fit one model under one estimator, pool its fits over imputations, compare the
sequence (the rules ``fit``, ``pool``, ``compare``)."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd

from mlmpipe.compare import compare_sequence, comparison_table
from mlmpipe.diagnostics.response import response_columns
from mlmpipe.errors import EstimationError, FormulaError, MlmpipeError
from mlmpipe.ladder import fit_with_ladder
from mlmpipe.missing import pool_fits
from mlmpipe.plan.slices import CompareSlice, FitSlice
from mlmpipe.record import FitRecord
from mlmpipe.record.capture import record_from_result


def fit_step(df: pd.DataFrame, fspec: str | dict) -> tuple[FitRecord, pd.DataFrame]:
    """Fit one model under one estimator. Returns (fit record, residuals/fitted table).

    On non-convergence or a singular fit the plan's preregistered decision ladder
    (:mod:`mlmpipe.ladder`) is climbed; its decisions go into the record's ``ladder``.
    """
    fspec = FitSlice.decode(fspec)
    formula, est = fspec.formula, fspec.estimator
    where = f"models.{fspec.model} ({est})"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            lad = fit_with_ladder(
                formula,
                df,
                reml=fspec.reml,
                backend=fspec.backend,
                convergence=fspec.convergence.to_dict() if fspec.convergence else None,
                fit_kwargs=fspec.fit_kwargs(),
            )
            res = lad.result
        except (EstimationError, FormulaError) as exc:
            raise type(exc)(f"{where}: {exc}") from None
        except MlmpipeError:
            raise
        except Exception as exc:  # any failure of the numerical code: the model cannot be estimated
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise EstimationError(f"{where}: {formula} cannot be estimated ({first})") from exc
    extra = lad.caught + [
        f"{w.category.__name__}: {str(w.message).splitlines()[0]}" for w in caught
    ]
    own = list(getattr(res, "warnings", []))
    record = record_from_result(
        res,
        model=fspec.model,
        estimator=est,
        planned_formula=formula,
        prior=fspec.fit_kwargs().get("prior"),
        ladder=lad.to_dict(),
        warnings=tuple(own + [w for w in extra if w not in own]),
    )
    rows = np.asarray(res.rows)

    resid = pd.DataFrame(
        {"row": rows, "fitted": np.asarray(res.fitted()), "residual": np.asarray(res.residuals())}
    ).assign(**response_columns(res))  # GLMMs: eta, y, weight for the quantile residuals
    return record, resid


#: Refits with a common random structure before :func:`fit_imputations` gives up.
MAX_COMMON_ROUNDS = 3


def fit_imputations(
    datasets: list[pd.DataFrame], fspec: str | dict | FitSlice
) -> list[tuple[FitRecord, pd.DataFrame]]:
    """Fit one model on every imputed data set with one random structure for all of them; returns
    (fit record, residuals table) per data set, as :func:`fit_step`.

    The convergence ladder runs on each data set; when it ends at different structures, every
    data set is refitted with the simplest structure reached (fewest variance parameters), and
    again until all agree, because fits of different models cannot be pooled by Rubin's rules.
    Each record's ``ladder`` then says ``common_structure`` and the per-imputation formulas
    before the refit.
    """
    fspec = FitSlice.decode(fspec)
    fits = [fit_step(df, fspec) for df in datasets]
    reached: list[str] = [r.formula_text for r, _ in fits]
    for rounds in range(MAX_COMMON_ROUNDS + 1):
        if len({r.formula_text for r, _ in fits}) == 1:
            break
        if rounds == MAX_COMMON_ROUNDS:
            raise EstimationError(
                f"models.{fspec.model} ({fspec.estimator}): the convergence ladder ends at "
                f"different random structures across imputations ({'; '.join(sorted(set(reached)))})"
            )
        simplest = min(
            (r for r, _ in fits), key=lambda r: len(r.theta) if r.theta is not None else 0
        )
        fspec = replace(fspec, formula=simplest.formula_text)
        fits = [fit_step(df, fspec) for df in datasets]
    if len(set(reached)) > 1:
        note = {
            "common_structure": fits[0][0].formula_text,
            "rule": "the simplest random structure the ladder reached in any imputation, "
            "refitted on every imputation",
            "per_imputation": reached,
        }
        fits = [(r.replace(ladder={**(r.ladder or {}), **note}), t) for r, t in fits]
    return fits


def pool_step(fits: list[FitRecord], alpha: float = 0.05) -> FitRecord:
    """Pool one model's fits over the imputations (Rubin's rules; :func:`mlmpipe.missing.pool_fits`)."""
    return pool_fits(fits, alpha)


def compare_step(
    fits: dict[tuple[str, str], FitRecord], cspec: str | dict
) -> tuple[dict, pd.DataFrame]:

    cspec = CompareSlice.decode(cspec)
    comp = compare_sequence([m.to_dict() for m in cspec.models], fits)
    first = cspec.models[0].name
    est = cspec.reporting_estimator
    f0 = fits[(first, est)]
    pooled_icc = f0.pooling.icc if f0.is_pooled else None
    values = {g: d["estimate"] for g, d in pooled_icc.items()} if pooled_icc else None
    comp["icc"] = {
        "model": first,
        "estimator": est,
        "values": values or f0.intraclass_correlations(),
    }
    return comp, comparison_table(comp)


def sequence_fits(
    fits: list[FitRecord], cspec: CompareSlice
) -> tuple[list[str], dict[str, FitRecord]]:
    """Model names in sequence order and one fit per model (REML when planned, else ML)."""
    est = cspec.reporting_estimator
    by = {(f.model, f.estimator): f for f in fits}
    names = cspec.model_names
    return names, {n: by[(n, est)] for n in names}
