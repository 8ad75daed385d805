"""``run_plan(plan, workdir)``: the analysis of a plan in-process, without Snakemake.

The same step functions as the Snakemake rules (:mod:`mlmpipe.steps`), called in DAG order on the
plan's own slices: validate -> missing data -> centering -> every model under every estimator on
every data set (one random structure for all imputations) -> pooling -> comparison -> effect
sizes -> diagnostics of the final model (and the MNAR delta analysis when planned). Artifacts go to the same paths under ``workdir`` as the
pipeline's (``reports/fits/<model>/<estimator>/imp<k>.json`` + ``.npz``, ``reports/comparison.json``,
...); the rendered report, figures and the multiverse stay with Snakemake, which caches them.
For notebooks and tests: ``run = run_plan(load_plan("config/analysis.yaml"), "work")``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mlmpipe.data import fetch_example, read_table
from mlmpipe.paths import centering_state_path, fit_path, pooled_path, raw_path
from mlmpipe.plan import Plan
from mlmpipe.record import FitRecord
from mlmpipe.steps.data import center_step, centering_state_step, missing_step, validate_step
from mlmpipe.steps.delta import delta_step
from mlmpipe.steps.diagnose import diagnose_step
from mlmpipe.steps.effects import effects_step
from mlmpipe.steps.models import compare_step, fit_imputations, fit_step, pool_step


@dataclass
class PlanRun:
    """What :func:`run_plan` produced: the fit records (per imputation and pooled, keyed by
    ``(model, estimator)``) and the step results, as the pipeline's artifacts hold them."""

    workdir: Path
    checks: dict[str, Any]
    missing: dict[str, Any]
    fits: dict[tuple[str, str], list[FitRecord]]
    pooled: dict[tuple[str, str], FitRecord]
    comparison: dict[str, Any]
    effects: dict[str, Any]
    diagnostics: dict[str, Any]
    influence: dict[str, Any]
    delta: dict[str, Any] | None = None
    data: dict[int, pd.DataFrame] = field(default_factory=dict, repr=False)

    def fit(self, model: str, estimator: str | None = None) -> FitRecord:
        """The pooled record of ``model`` under ``estimator`` (default: the reporting one)."""
        est = estimator or next(e for e in ("reml", "ml") if (model, e) in self.pooled)
        return self.pooled[(model, est)]


def run_plan(plan: Plan, workdir: str | Path) -> PlanRun:
    """Run ``plan``'s analysis in ``workdir`` (its ``data/raw`` holds the data file; a bundled
    example is written there first) and return the results; see the module docstring."""
    work = Path(workdir)
    raw = work / raw_path(plan)
    if not raw.exists():
        if plan.data.source != "example":
            raise FileNotFoundError(f"data.file: {str(raw)!r} does not exist")
        raw.parent.mkdir(parents=True, exist_ok=True)
        fetch_example(plan.data.example, str(raw))

    table = read_table(raw, plan.data.format, plan.data.encoding, plan.data.sheet)
    clean, checks, desc = validate_step(table, plan.slice_validate())
    _write_json(work / "reports/checks.json", checks)
    _write_json(work / "reports/tables/descriptives.json", desc)
    datasets, missing = missing_step(clean, plan.slice_missing(), plan.slice_validate())
    _write_json(work / "reports/missing.json", missing)

    processed: dict[int, pd.DataFrame] = {}
    for imp, df in zip(plan.imputations, datasets, strict=True):
        state = centering_state_step(df, plan.slice_center())
        _write_json(work / centering_state_path(plan, imp), state)
        processed[imp] = center_step(df, state)

    final = plan.model_names[-1]
    report_est = plan.reporting_estimator
    first = plan.imputations[0]
    fits: dict[tuple[str, str], list[FitRecord]] = {}
    resid: dict[tuple[str, str, int], pd.DataFrame] = {}
    single: dict[tuple[str, str, int], FitRecord] = {}
    for model in plan.model_names:
        for est in plan.estimators:
            fspec = plan.slice_fit(model, est)
            pooled_sets = list(plan.pooled_imputations)
            results = dict(
                zip(
                    pooled_sets,
                    fit_imputations([processed[i] for i in pooled_sets], fspec),
                    strict=True,
                )
            )
            if (model, est) == (final, report_est) and first not in results:
                # the diagnostics read the final model on data set 0
                results[first] = fit_step(processed[first], fspec)
            for imp, (rec, table) in results.items():
                path = work / fit_path(model, est, imp)
                path.parent.mkdir(parents=True, exist_ok=True)
                rec.save(path)
                table.to_parquet(path.with_name(f"imp{imp}_resid.parquet"), index=False)
                single[(model, est, imp)], resid[(model, est, imp)] = rec, table
            fits[(model, est)] = [single[(model, est, i)] for i in plan.pooled_imputations]

    pooled = {key: pool_step(recs) for key, recs in fits.items()}
    for (model, est), rec in pooled.items():
        rec.save(work / pooled_path(model, est))

    comparison, table = compare_step(pooled, plan.slice_compare())
    _write_json(work / "reports/comparison.json", comparison)
    table.to_csv(work / "reports/tables/comparison.csv", index=False)

    effect_data = [processed[i] for i in plan.pooled_imputations]
    effect_fits = [r for m in plan.model_names for r in fits[(m, report_est)]]
    effects = effects_step(effect_data, effect_fits, plan.slice_compare())
    _write_json(work / "reports/effects.json", effects)

    diag, infl = diagnose_step(
        processed[first],
        single[(final, report_est, first)],
        resid[(final, report_est, first)],
        plan.slice_compare(),
        plan.seed,
    )
    _write_json(work / "reports/diagnostics/residuals.json", diag)
    _write_json(work / "reports/diagnostics/influence.json", infl)

    delta = None
    if plan.missing.delta.grid:
        delta, _figure = delta_step(effect_data, plan.slice_delta())
        _write_json(work / "reports/missing_delta.json", delta)

    return PlanRun(
        workdir=work,
        checks=checks,
        missing=missing,
        fits=fits,
        pooled=pooled,
        comparison=comparison,
        effects=effects,
        diagnostics=diag,
        influence=infl,
        delta=delta,
        data=processed,
    )


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, default=str), encoding="utf-8")
