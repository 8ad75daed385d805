"""Data steps: validation, missing-data handling and centering (the rules ``validate``, ``missing``,
``centering_state``, ``center`` and the missing-data figures)."""

from __future__ import annotations

import warnings

import pandas as pd

from mlmpipe.centering import CenteringState, apply_centering, centering_log, fit_centering
from mlmpipe.data import describe, read_table, validate_data
from mlmpipe.data.id_structure import audit_design
from mlmpipe.data.membership_checks import prepare_design
from mlmpipe.data.survey_checks import check_survey_columns, prepare_survey_columns
from mlmpipe.errors import MlmpipeWarning
from mlmpipe.missing import handle_missing
from mlmpipe.missing.figures import pattern_figure, trace_figure
from mlmpipe.missing.plausible import plausible_value_data_sets
from mlmpipe.plan.slices import CenterSlice, MissingSlice, ValidateSlice


def read_raw_step(path: str, fmt: str, vspec: str | dict) -> tuple[pd.DataFrame, list[str]]:
    """Read the raw data file (``data.format``, ``data.encoding``); returns the table and the
    reader's warnings (e.g. a CSV file read as cp1252 because it is not UTF-8)."""
    vs = ValidateSlice.decode(vspec)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        raw = read_table(path, fmt, vs.encoding, vs.sheet)
    return raw, [str(w.message) for w in caught if issubclass(w.category, MlmpipeWarning)]


def validate_step(
    raw: pd.DataFrame, vspec: str | dict, read_notes: list[str] | tuple = ()
) -> tuple[pd.DataFrame, dict, dict]:
    """Checks + descriptives. Returns (clean data, checks report, descriptives); ``read_notes``
    (the reader's warnings) are recorded first, as warn-level checks named ``read``."""
    vspec = ValidateSlice.decode(vspec).to_dict()
    if vspec.get("survey"):  # weights and plausible values: checked, PV 1 in the analysed column
        check_survey_columns(raw, vspec["survey"], vspec["levels"])
        raw = prepare_survey_columns(raw, vspec["survey"])
    raw, design_notes = prepare_design(raw, vspec)  # long membership table -> wide columns
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # warn-level findings are recorded in the report
        clean, report = validate_data(raw, vspec)
    audit_design(clean, vspec, report, design_notes)  # id structure, membership (crossed plans)
    notes = [{"name": "read", "status": "warn", "message": m, "details": {}} for m in read_notes]
    report["checks"] = notes + report["checks"]
    return clean, report, describe(clean, vspec)


def check_warnings(report: dict) -> list[str]:
    """The warn-level findings of a checks report (shown on the terminal by the validate rule)."""
    return [c["message"] for c in report["checks"] if c["status"] == "warn"]


def missing_step(clean: pd.DataFrame, mspec: str | dict, vspec: str | dict):
    """Missing-data handling. Returns (list of completed data sets, missing report)."""
    mspec = MissingSlice.decode(mspec)
    vspec = ValidateSlice.decode(vspec)
    types = vspec.predictor_types()

    def handle(df: pd.DataFrame, seed: int):
        return handle_missing(
            df,
            mspec.missing.to_dict(),
            _levels(vspec),
            vspec.outcome,
            types=types,
            seed=seed,
            interactions=[list(p) for p in mspec.interactions or ()],
            family=mspec.family,
        )

    if mspec.plausible_values is None:
        return handle(clean, mspec.seed)
    return plausible_value_data_sets(clean, mspec.plausible_values, mspec.seed, handle)


def centering_state_step(df: pd.DataFrame, cspec: str | dict) -> dict:
    """Compute the centering state on the analysis data; returns state + log (JSON-able)."""
    cspec = CenterSlice.decode(cspec).to_dict()
    state = fit_centering(df, cspec)
    return {"state": state.to_dict(), "log": centering_log(state)}


def center_step(df: pd.DataFrame, state: dict) -> pd.DataFrame:
    """Apply a stored centering state to a data set."""
    return apply_centering(df, CenteringState.from_dict(state["state"]))


def missing_figures_step(report: dict) -> dict:
    """Missingness-pattern figure, and the imputation trace figure when data were imputed."""
    trace = trace_figure(report["imputation"]) if "imputation" in report else None
    return {"patterns": pattern_figure(report), "trace": trace}


def _levels(vspec: ValidateSlice) -> list[tuple[str, str | None, list[str]]]:
    return vspec.level_variables()
