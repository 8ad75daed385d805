"""Effect steps of the fitted sequence: effect sizes, cross-level interactions, GLMM predictions
(the rules ``effects``, ``interactions``, ``predictions``)."""

from __future__ import annotations

import pandas as pd

from mlmpipe.effects.interactions import interaction_analysis
from mlmpipe.effects.mi_predictions import predictions_any
from mlmpipe.effects.pooled import pooled_effect_sizes
from mlmpipe.effects.summary import effect_sizes
from mlmpipe.plan.slices import CompareSlice, PredictionsSlice
from mlmpipe.record import FitRecord
from mlmpipe.report.prediction_figures import prediction_figures
from mlmpipe.steps.models import sequence_fits


def effects_step(
    data: pd.DataFrame | list[pd.DataFrame], fits: list[FitRecord], cspec: str | dict
) -> dict:
    """Effect sizes of the sequence (``mlmpipe.effects.summary.effect_sizes``) at level 1 - alpha.

    ``data`` is the analysed data set, or the imputed data sets in imputation order with ``fits``
    holding every model's fit on each of them (in that order within a model): the effect sizes are
    then computed per imputation and pooled (:mod:`mlmpipe.effects.pooled`)."""
    cspec = CompareSlice.decode(cspec)
    datasets = data if isinstance(data, list) else [data]
    level = 1.0 - cspec.alpha
    if len(datasets) == 1:
        names, by_model = sequence_fits(fits, cspec)
        return effect_sizes(names, by_model, datasets[0], level=level)

    est = cspec.reporting_estimator
    names = cspec.model_names
    by = {n: [f for f in fits if f.model == n and f.estimator == est] for n in names}
    return pooled_effect_sizes(names, by, datasets, level=level)


def interactions_step(data: pd.DataFrame, fit: FitRecord, cspec: str | dict) -> dict:
    """Simple slopes and Johnson-Neyman intervals of the cross-level terms of ``fit``."""
    return interaction_analysis(fit, data, alpha=CompareSlice.decode(cspec).alpha)


def predictions_step(
    data: pd.DataFrame | list[pd.DataFrame], fit: FitRecord, pspec: str | dict
) -> tuple[dict, dict]:
    """GLMM predictions of the final model at the planned covariate values and the prediction
    plot (``mlmpipe.effects.glmm_predictions``); several data sets (multiple imputation): refitted
    on each and pooled by Rubin's rules (``mlmpipe.effects.mi_predictions``). Returns (result
    dict, name -> Figure)."""
    pspec = PredictionsSlice.decode(pspec).to_dict()
    datas = [data] if isinstance(data, pd.DataFrame) else list(data)
    result = predictions_any(fit, datas, pspec)
    return result, prediction_figures(result)
