"""Every artifact path of the pipeline, in one place (the rules, the CLI and the library ask here).

The layout (see docs of the DAG): raw data under ``data/raw``, the cleaned and imputed data sets
under ``data/interim``, centred data under ``data/processed``, and every result under ``reports/``:
fits ``reports/fits/{model}/{estimator}/imp{imp}.json`` (+ ``.npz`` arrays, ``_resid.parquet``)
pooled into ``pooled.json`` (+ ``.npz``), the centering state of each data set, the multiverse under
``reports/sensitivity``.

This module reads a plan only through the attributes named in :class:`PlanFacts`, so it imports
nothing of the plan (the plan package re-exports these functions).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

RAW_DIR = "data/raw"
CLEAN = "data/interim/clean.parquet"
CHECKS = "reports/checks.json"
DESCRIPTIVES = "reports/tables/descriptives.json"
DESCRIPTIVES_TABLE = "reports/tables/descriptives.csv"
MISSING_REPORT = "reports/missing.json"
CENTERING = "reports/centering.json"
CENTERING_IMPUTED = "reports/centering/imp{imp}.json"  # imputed data set {imp} >= 1
COMPARISON = "reports/comparison.json"
COMPARISON_TABLE = "reports/tables/comparison.csv"
PROVENANCE = "reports/provenance.json"
REPORT_HTML = "reports/report.html"
REPORT_NOTEBOOK = "reports/report.ipynb"
REPORT_DOCX = "reports/report.docx"
EFFECTS = "reports/effects.json"
DIAG_RESIDUALS = "reports/diagnostics/residuals.json"
DIAG_INFLUENCE = "reports/diagnostics/influence.json"
INTERACTIONS = "reports/interactions.json"
PROFILE_CI = "reports/profile_ci.json"
BOOTSTRAP = "reports/bootstrap.json"
PREDICTIONS = "reports/predictions.json"
PREDICTION_FIGURES = "reports/figures/predictions"
RESULT_FIGURES = "reports/figures/results"
MODEL_FIGURES = "reports/figures/model"
DEVIATIONS = "reports/deviations.json"
DECISIONS = "reports/decisions.json"
REPRODUCIBILITY = "reports/reproducibility.json"
MISSING_PATTERNS = "reports/figures/missing_patterns.png"
IMPUTATION_TRACE = "reports/figures/imputation_trace.png"
MISSING_DELTA = "reports/missing_delta.json"
TIPPING_POINT = "reports/figures/tipping_point.png"

SPEC_DIR = "reports/sensitivity/specs"
SENS_INFLUENCE = "reports/sensitivity/influence.json"
SENS_SUMMARY = "reports/sensitivity/summary.json"
SENS_TABLE = "reports/tables/sensitivity.csv"
SENS_FIGURE = "reports/figures/specification_curve.png"


class _Data(Protocol):
    file: str


class _Delta(Protocol):
    grid: Sequence[float]


class _Missing(Protocol):
    method: str
    delta: _Delta


class _Sensitivity(Protocol):
    enabled: bool


class PlanFacts(Protocol):
    """What the path builders read of a :class:`mlmpipe.plan.Plan`."""

    data: _Data
    missing: _Missing
    sensitivity: _Sensitivity
    model_names: tuple[str, ...]
    estimators: tuple[str, ...]


def raw_path(plan: PlanFacts) -> str:
    """The raw data file (read-only; its SHA-256 goes into provenance)."""
    return f"{RAW_DIR}/{plan.data.file}"


def imputed_path(imp: int | str) -> str:
    """Data set ``imp`` after the missing step (``0``: the observed / listwise data)."""
    return f"data/interim/imputed/imp{imp}.parquet"


def processed_path(imp: int | str) -> str:
    """Data set ``imp`` after centering."""
    return f"data/processed/imp{imp}.parquet"


def centering_state_path(plan: PlanFacts | None, imp: int | str) -> str:
    """Centering state used for data set ``imp``: computed on that data set itself (the plan's
    ``missing.centering: per_imputation``); ``imp0`` keeps ``reports/centering.json``."""
    return CENTERING if int(imp) == 0 else CENTERING_IMPUTED.format(imp=imp)


def fit_path(model: str, estimator: str, imp: int | str) -> str:
    """Fit of one model under one estimator on data set ``imp``."""
    return f"reports/fits/{model}/{estimator}/imp{imp}.json"


def resid_path(model: str, estimator: str, imp: int | str) -> str:
    """Fitted values and residuals of that fit."""
    return f"reports/fits/{model}/{estimator}/imp{imp}_resid.parquet"


def arrays_path(record_path: str | Path) -> str:
    """The arrays file (``.npz``: theta, beta, vcov, modes) beside a fit record's JSON summary."""
    return str(Path(record_path).with_suffix(".npz"))


def pooled_path(model: str, estimator: str) -> str:
    """Fits of one model and estimator pooled over the imputations (identity without them)."""
    return f"reports/fits/{model}/{estimator}/pooled.json"


def bootstrap_batch_path(batch: int | str) -> str:
    return f"reports/bootstrap/batch{batch}.json"


def spec_path(sid: str) -> str:
    """Result of one multiverse specification."""
    return f"{SPEC_DIR}/{sid}.json"


def sensitivity_targets(plan: PlanFacts) -> list[str]:
    """Final artifacts of the multiverse (empty when the plan does not enable it)."""
    sens = plan.sensitivity
    if sens is None or not sens.enabled:
        return []
    return [SENS_SUMMARY, SENS_TABLE, SENS_FIGURE]


def missing_targets(plan: PlanFacts) -> list[str]:
    """Pattern figure always; trace figure under imputation; the delta analysis when planned."""
    out = [MISSING_PATTERNS]
    if plan.missing.method == "multiple_imputation":
        out.append(IMPUTATION_TRACE)
        if plan.missing.delta.grid:
            out += [MISSING_DELTA, TIPPING_POINT]
    return out


def targets(plan: PlanFacts) -> list[str]:
    """Final artifacts of the pipeline (the inputs of Snakemake's ``rule all``)."""
    pooled = [pooled_path(m, e) for m in plan.model_names for e in plan.estimators]
    return (
        pooled
        + sensitivity_targets(plan)
        + missing_targets(plan)
        + [CHECKS, MISSING_REPORT, CENTERING, COMPARISON, PROVENANCE, REPORT_HTML, REPORT_DOCX]
    )
