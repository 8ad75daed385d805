"""One function per pipeline step (Snakemake rule): data and plan slices in, objects out.

The rule scripts under ``workflow/scripts/`` read their inputs, call one of these, and write the
outputs; all decisions live here where they can be tested without Snakemake.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from mlmpipe.errors import EstimationError, FormulaError, MlmpipeError
from mlmpipe.plan.slices import (
    BootstrapBatchSlice,
    CenterSlice,
    CompareSlice,
    DeltaSlice,
    FitSlice,
    MissingSlice,
    PredictionsSlice,
    ValidateSlice,
)
from mlmpipe.record import FitRecord
from mlmpipe.record.capture import record_from_result


def _levels(vspec: ValidateSlice) -> list[tuple[str, str | None, list[str]]]:
    return vspec.level_variables()


def validate_step(raw: pd.DataFrame, vspec: str | dict) -> tuple[pd.DataFrame, dict, dict]:
    """Checks + descriptives. Returns (clean data, checks report, descriptives)."""
    from mlmpipe.data import describe, validate_data

    vspec = ValidateSlice.decode(vspec).to_dict()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # warn-level findings are recorded in the report
        clean, report = validate_data(raw, vspec)
    return clean, report, describe(clean, vspec)


def missing_step(clean: pd.DataFrame, mspec: str | dict, vspec: str | dict):
    """Missing-data handling. Returns (list of completed data sets, missing report)."""
    from mlmpipe.missing import handle_missing

    mspec = MissingSlice.decode(mspec)
    vspec = ValidateSlice.decode(vspec)
    types = vspec.predictor_types()
    return handle_missing(
        clean,
        mspec.missing.to_dict(),
        _levels(vspec),
        vspec.outcome,
        types=types,
        seed=mspec.seed,
        interactions=[list(p) for p in mspec.interactions or ()],
        family=mspec.family,
    )


def centering_state_step(df: pd.DataFrame, cspec: str | dict) -> dict:
    """Compute the centering state on the analysis data; returns state + log (JSON-able)."""
    from mlmpipe.centering import centering_log, fit_centering

    cspec = CenterSlice.decode(cspec).to_dict()
    state = fit_centering(df, cspec)
    return {"state": state.to_dict(), "log": centering_log(state)}


def center_step(df: pd.DataFrame, state: dict) -> pd.DataFrame:
    """Apply a stored centering state to a data set."""
    from mlmpipe.centering import CenteringState, apply_centering

    return apply_centering(df, CenteringState.from_dict(state["state"]))


def fit_step(df: pd.DataFrame, fspec: str | dict) -> tuple[FitRecord, pd.DataFrame]:
    """Fit one model under one estimator. Returns (fit record, residuals/fitted table).

    On non-convergence or a singular fit the plan's preregistered decision ladder
    (:mod:`mlmpipe.ladder`) is climbed; its decisions go into the record's ``ladder``.
    """
    from mlmpipe.ladder import fit_with_ladder

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
        ladder=lad.to_dict(),
        warnings=tuple(own + [w for w in extra if w not in own]),
    )
    rows = np.asarray(res.rows)
    from mlmpipe.diagnostics.response import response_columns

    resid = pd.DataFrame(
        {"row": rows, "fitted": np.asarray(res.fitted()), "residual": np.asarray(res.residuals())}
    ).assign(**response_columns(res))  # GLMMs: eta, y, weight for the quantile residuals
    return record, resid


def pool_step(fits: list[FitRecord]) -> FitRecord:
    from mlmpipe.missing import pool_fits

    return pool_fits(fits)


def missing_figures_step(report: dict) -> dict:
    """Missingness-pattern figure, and the imputation trace figure when data were imputed."""
    from mlmpipe.missing.figures import pattern_figure, trace_figure

    trace = trace_figure(report["imputation"]) if "imputation" in report else None
    return {"patterns": pattern_figure(report), "trace": trace}


def delta_step(datasets: list[pd.DataFrame], dspec: str | dict):
    """MNAR delta adjustment over the planned grid. Returns (result dict, tipping-point figure)."""
    from mlmpipe.missing.delta import delta_analysis
    from mlmpipe.missing.figures import tipping_figure

    d = DeltaSlice.decode(dspec)
    res = delta_analysis(
        datasets,
        d.outcome,
        d.formula,
        d.term,
        list(d.grid),
        reml=d.estimator == "reml",
        alpha=d.alpha,
        backend=d.backend,
        glmm=d.glmm.to_dict() if d.glmm else None,
        seed=d.seed if d.seed is not None else 0,
    )
    res["model"] = d.model
    return res, tipping_figure(res)


def compare_step(
    fits: dict[tuple[str, str], FitRecord], cspec: str | dict
) -> tuple[dict, pd.DataFrame]:
    from mlmpipe.compare import compare_sequence, comparison_table

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


def _sequence_fits(
    fits: list[FitRecord], cspec: CompareSlice
) -> tuple[list[str], dict[str, FitRecord]]:
    """Model names in sequence order and one fit per model (REML when planned, else ML)."""
    est = cspec.reporting_estimator
    by = {(f.model, f.estimator): f for f in fits}
    names = cspec.model_names
    return names, {n: by[(n, est)] for n in names}


def effects_step(
    data: pd.DataFrame | list[pd.DataFrame], fits: list[FitRecord], cspec: str | dict
) -> dict:
    """Effect sizes of the sequence (``mlmpipe.effects.summary.effect_sizes``) at level 1 - alpha.

    ``data`` is the analysed data set, or the imputed data sets in imputation order with ``fits``
    holding every model's fit on each of them (in that order within a model): the effect sizes are
    then computed per imputation and pooled (:mod:`mlmpipe.effects.pooled`)."""
    from mlmpipe.effects.summary import effect_sizes

    cspec = CompareSlice.decode(cspec)
    datasets = data if isinstance(data, list) else [data]
    level = 1.0 - cspec.alpha
    if len(datasets) == 1:
        names, by_model = _sequence_fits(fits, cspec)
        return effect_sizes(names, by_model, datasets[0], level=level)
    from mlmpipe.effects.pooled import pooled_effect_sizes

    est = cspec.reporting_estimator
    names = cspec.model_names
    by = {n: [f for f in fits if f.model == n and f.estimator == est] for n in names}
    return pooled_effect_sizes(names, by, datasets, level=level)


def diagnose_step(
    data: pd.DataFrame, fit: FitRecord, resid: pd.DataFrame, cspec: str | dict, seed: int = 0
) -> tuple[dict, dict]:
    """Residual diagnostics and leave-one-cluster-out influence of one model on the level-2 units
    (the first grouping level above the observations); ``seed`` (the plan's) draws the randomized
    residuals of GLMM and ordinal fits."""
    from mlmpipe.diagnostics import leave_one_cluster_out, residual_diagnostics

    group = CompareSlice.decode(cspec).cluster_id
    return (
        residual_diagnostics(fit, resid, data, group, seed),
        leave_one_cluster_out(fit, data, group),
    )


def apa_tables_step(desc, data, fits, comparison, effects, cspec, outdir) -> list:
    """Build the APA tables and write each as ``<outdir>/apa_<name>.{html,docx,tex,csv}``."""
    from pathlib import Path

    from mlmpipe.report.apa import build_tables
    from mlmpipe.report.export import write_table

    cspec = CompareSlice.decode(cspec).to_dict()
    tables = build_tables(desc, data, fits, comparison, effects, cspec)
    return [p for name, t in tables.items() for p in write_table(t, Path(outdir) / f"apa_{name}")]


def predictions_step(
    data: pd.DataFrame | list[pd.DataFrame], fit: FitRecord, pspec: str | dict
) -> tuple[dict, dict]:
    """GLMM predictions of the final model at the planned covariate values and the prediction
    plot (``mlmpipe.effects.glmm_predictions``); several data sets (multiple imputation): refitted
    on each and pooled by Rubin's rules (``mlmpipe.effects.mi_predictions``). Returns (result
    dict, name -> Figure)."""
    from mlmpipe.effects.mi_predictions import predictions_any
    from mlmpipe.report.prediction_figures import prediction_figures

    pspec = PredictionsSlice.decode(pspec).to_dict()
    datas = [data] if isinstance(data, pd.DataFrame) else list(data)
    result = predictions_any(fit, datas, pspec)
    return result, prediction_figures(result)


def interactions_step(data: pd.DataFrame, fit: FitRecord, cspec: str | dict) -> dict:
    """Simple slopes and Johnson-Neyman intervals of the cross-level terms of ``fit``."""
    from mlmpipe.effects.interactions import interaction_analysis

    return interaction_analysis(fit, data, alpha=CompareSlice.decode(cspec).alpha)


def profile_step(data: pd.DataFrame, fits: list[FitRecord], cspec: str | dict) -> dict:
    """Profile-likelihood intervals (level 1 - alpha) of every variance parameter (SDs,
    correlations, sigma) of each model of the sequence."""
    from mlmpipe.inference.profile import profile_sequence

    cspec = CompareSlice.decode(cspec)
    names, by_model = _sequence_fits(fits, cspec)
    return profile_sequence(names, by_model, data, level=1.0 - cspec.alpha)


def batch_sizes(resamples: int, batches: int) -> list[int]:
    """Split ``resamples`` over ``batches`` as evenly as possible (earlier batches get the rest)."""
    base, rest = divmod(int(resamples), int(batches))
    return [base + (k < rest) for k in range(int(batches))]


def bootstrap_batch_step(data: pd.DataFrame, fit: FitRecord, bspec: str | dict) -> dict:
    """One batch of the parametric bootstrap (``bspec``: seed, batch, resamples, batches)."""
    from mlmpipe.inference.bootstrap import bootstrap_batch

    bspec = BootstrapBatchSlice.decode(bspec)
    n = batch_sizes(bspec.resamples, bspec.batches)[bspec.batch]
    return bootstrap_batch(fit, data, n, bspec.seed, bspec.batch)


def bootstrap_step(batches: list[dict], fit: FitRecord, cspec: str | dict) -> dict:
    """Percentile intervals (level 1 - alpha) from the pooled bootstrap batches."""
    from mlmpipe.inference.bootstrap import percentile_intervals

    return percentile_intervals(batches, fit, level=1.0 - CompareSlice.decode(cspec).alpha)
