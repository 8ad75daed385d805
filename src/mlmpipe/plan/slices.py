"""One typed, frozen slice of the plan per pipeline step.

A slice is all a step needs of the plan and nothing else; its canonical JSON (:meth:`Slice.to_json`)
is the Snakemake parameter of the rule, hence the job's cache key: editing one part of the plan
reruns only the steps whose slice changes. The JSON of every slice is byte-identical to the strings
of the dict-valued plan this replaced (``tests/test_plan_slices.py`` pins it for the bundled plans),
so cached results stay valid. Optional keys (GLMM options, Kenward-Roger, ...) appear only when
they are set, which is what keeps linear-model slices unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from mlmpipe.plan.frozen import FrozenMap, canonical_json, freeze, plain
from mlmpipe.plan.sections import (
    BootstrapSection,
    ChecksSection,
    ConvergenceSection,
    DeltaSection,
    GlmmOptions,
    Hypothesis,
    MissingSection,
    PredictionsSection,
    ReportSection,
    reporting_estimator,
)

S = TypeVar("S", bound="Slice")


class Slice:
    """Base of the step slices: ``to_dict`` / ``from_dict`` define the JSON form."""

    def to_dict(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_dict(cls: type[S], d: Mapping) -> S:
        raise NotImplementedError

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no spaces): the rule's parameter."""
        return canonical_json(self.to_dict())

    @classmethod
    def from_json(cls: type[S], text: str) -> S:
        return cls.from_dict(json.loads(text))

    @classmethod
    def decode(cls: type[S], spec: str | Mapping | Slice) -> S:
        """The slice from its JSON string (a rule's parameter), its decoded dict, or itself."""
        if isinstance(spec, cls):
            return spec
        if isinstance(spec, str):
            return cls.from_json(spec)
        return cls.from_dict(spec)


def _glmm(d: Mapping) -> GlmmOptions | None:
    return GlmmOptions(d["family"], d["link"], d["nagq"]) if d else None


def _glmm_dict(glmm: GlmmOptions | None) -> dict:
    return glmm.to_dict() if glmm is not None else {}


# --------------------------------------------------------------------------- data steps


@dataclass(frozen=True)
class FetchSlice(Slice):
    """``fetch_example``: where the raw data come from."""

    source: str
    example: str
    file: str

    def to_dict(self) -> dict:
        return {"source": self.source, "example": self.example, "file": self.file}

    @classmethod
    def from_dict(cls, d: Mapping) -> FetchSlice:
        return cls(d["source"], d["example"], d["file"])


@dataclass(frozen=True)
class PredictorCheck:
    """What validation knows of a predictor: its type, categories and range."""

    type: str
    levels: tuple | None
    range: tuple | None


@dataclass(frozen=True)
class LevelCheck:
    """What validation knows of a level: its ID column, nesting of IDs and predictors."""

    name: str
    id: str | None
    ids_local_to_parent: bool
    predictors: FrozenMap[str, PredictorCheck]


@dataclass(frozen=True)
class ValidateSlice(Slice):
    """``validate`` (and the variables of ``missing``): outcome, levels with their predictors'
    types, the data checks; deliberately no centering decisions and no models. ``family`` is set
    for an ordinal outcome only (checked for having few categories)."""

    format: str
    outcome: str
    outcome_range: tuple | None
    levels: tuple[LevelCheck, ...]
    checks: ChecksSection
    family: str | None = None
    encoding: str = "auto"  # data.encoding (CSV files)
    missing_codes: FrozenMap[str, tuple] = FrozenMap()  # data.missing_codes per column
    # columns the fits read besides IDs, outcome and predictors (observation weights, residual
    # structures' occasion / time / strata): kept in the analysed copy
    extra_columns: tuple[str, ...] = ()
    #: the survey columns to check and keep (mlmpipe.data.survey_checks); None without survey
    survey: FrozenMap | None = None
    sheet: str | None = None  # data.sheet (Excel files)
    #: crossed classifications and membership to audit (mlmpipe.data.id_structure,
    #: mlmpipe.data.membership_checks); None for a nested plan
    design: FrozenMap | None = None

    def to_dict(self) -> dict:
        out = {
            "format": self.format,
            "outcome": {"name": self.outcome, "range": plain(self.outcome_range)},
            "levels": [
                {
                    "name": lv.name,
                    "id": lv.id,
                    "ids_local_to_parent": lv.ids_local_to_parent,
                    "predictors": {
                        name: {"type": p.type, "levels": plain(p.levels), "range": plain(p.range)}
                        for name, p in lv.predictors.items()
                    },
                }
                for lv in self.levels
            ],
            "checks": self.checks.to_dict(),
        }
        if self.encoding != "auto":
            out["encoding"] = self.encoding
        if self.missing_codes:
            out["missing_codes"] = plain(self.missing_codes)
        if self.extra_columns:
            out["extra_columns"] = list(self.extra_columns)
        if self.survey is not None:
            out["survey"] = plain(self.survey)
        if self.sheet is not None:
            out["sheet"] = self.sheet
        if self.design is not None:
            out["design"] = plain(self.design)
        return out | ({"family": self.family} if self.family is not None else {})

    @classmethod
    def from_dict(cls, d: Mapping) -> ValidateSlice:
        return cls(
            format=d["format"],
            outcome=d["outcome"]["name"],
            outcome_range=freeze(d["outcome"]["range"]),
            levels=tuple(
                LevelCheck(
                    lv["name"],
                    lv["id"],
                    lv["ids_local_to_parent"],
                    FrozenMap.of(
                        {
                            n: PredictorCheck(p["type"], freeze(p["levels"]), freeze(p["range"]))
                            for n, p in lv["predictors"].items()
                        }
                    ),
                )
                for lv in d["levels"]
            ),
            checks=ChecksSection.from_config(d["checks"]),
            family=d.get("family"),
            encoding=d.get("encoding", "auto"),
            missing_codes=freeze(d.get("missing_codes", {})),
            extra_columns=tuple(d.get("extra_columns", ())),
            survey=freeze(d["survey"]) if d.get("survey") is not None else None,
            sheet=d.get("sheet"),
            design=freeze(d["design"]) if d.get("design") is not None else None,
        )

    def level_variables(self) -> list[tuple[str, str | None, list[str]]]:
        """``(level name, ID column, predictor names)`` per level, level 1 first."""
        return [(lv.name, lv.id, list(lv.predictors)) for lv in self.levels]

    def predictor_types(self) -> dict[str, tuple[str, list | None]]:
        """Predictor name -> (type, categories as a list or None)."""
        return {
            n: (p.type, plain(p.levels)) for lv in self.levels for n, p in lv.predictors.items()
        }


@dataclass(frozen=True)
class OutlierChoice:
    """A variant's outlier handling: drop the clusters flagged as influential (at ``cutoff``;
    None: the influence analysis' default rule). Plans themselves analyse all clusters."""

    cutoff: float | None = None


@dataclass(frozen=True)
class MissingSlice(Slice):
    """``missing``: the (resolved) missing-data plan and the seed; under multiple imputation also
    the interaction pairs of the models (imputed with their products) and a non-gaussian outcome's
    family (imputed by predictive mean matching)."""

    missing: MissingSection
    seed: int
    interactions: tuple[tuple[str, str], ...] | None = None
    family: str | None = None
    outliers: OutlierChoice | None = None
    #: per plausible value: analysed column -> its column (``survey``; None without)
    plausible_values: tuple[FrozenMap[str, str], ...] | None = None

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"missing": self.missing.to_dict(), "seed": self.seed}
        if self.plausible_values is not None:
            out["plausible_values"] = plain(self.plausible_values)
        if self.interactions is not None:
            out["interactions"] = plain(self.interactions)
        if self.family is not None:
            out["family"] = self.family
        if self.outliers is not None:
            out["outliers"] = {"drop_influential": True, "cutoff": self.outliers.cutoff}
        return out

    def same_data_sets(self, other: MissingSlice) -> bool:
        """Whether the missing step makes the same data sets under both slices: the delta grid
        (read by the delta analysis) and a variant's outlier handling (applied after the step)
        do not enter it."""

        def key(s: MissingSlice) -> MissingSlice:
            return replace(s, outliers=None, missing=replace(s.missing, delta=DeltaSection()))

        return key(self) == key(other)

    @classmethod
    def from_dict(cls, d: Mapping) -> MissingSlice:
        m = d["missing"]
        dd = m.get("delta") or {}
        delta = DeltaSection(tuple(dd.get("grid", ())), dd.get("model"), dd.get("term"))
        # a hand-written slice may leave out what has a schema default
        section = MissingSection(
            m["method"], m["m"], m.get("iterations", 20), m.get("donors", 5),
            tuple(m.get("ordered", ())), m.get("centering", "per_imputation"), delta,
            planned_m=m["m"],
        )  # fmt: skip
        inter = d.get("interactions")
        out = d.get("outliers")
        return cls(
            missing=section,
            seed=d["seed"],
            interactions=tuple(tuple(p) for p in inter) if inter is not None else None,
            family=d.get("family"),
            outliers=OutlierChoice(out["cutoff"]) if out else None,
            plausible_values=freeze(d["plausible_values"]) if d.get("plausible_values") else None,
        )


@dataclass(frozen=True)
class CenterLevel:
    """One level's centering decisions: predictor -> none / grand / group."""

    name: str
    id: str | None
    predictors: FrozenMap[str, str]


@dataclass(frozen=True)
class ColumnNames:
    """The column a model uses for a level-1 predictor and that predictor's cluster mean."""

    column: str
    cluster_mean: str


@dataclass(frozen=True)
class CenterSlice(Slice):
    """``centering_state``: the name patterns and every predictor's centering, by level.

    ``kept`` (variants only, :meth:`mlmpipe.plan.Plan.with_choices`): predictors whose centering
    the variant changed while its models keep the planned columns: the predictor is written to
    the planned column under the new rule (``none``: the raw values) and its cluster mean is
    written too, so a contextual term of the model keeps its column.
    """

    centered_name: str
    cluster_mean_name: str
    levels: tuple[CenterLevel, ...]
    kept: FrozenMap[str, ColumnNames] = FrozenMap()

    def to_dict(self) -> dict:
        out = {
            "names": {
                "centered_name": self.centered_name,
                "cluster_mean_name": self.cluster_mean_name,
            },
            "levels": [
                {"name": lv.name, "id": lv.id, "predictors": dict(lv.predictors)}
                for lv in self.levels
            ],
        }
        if self.kept:
            out["kept"] = {
                k: {"column": c.column, "cluster_mean": c.cluster_mean}
                for k, c in self.kept.items()
            }
        return out

    @classmethod
    def from_dict(cls, d: Mapping) -> CenterSlice:
        return cls(
            d["names"]["centered_name"],
            d["names"]["cluster_mean_name"],
            tuple(
                CenterLevel(lv["name"], lv["id"], FrozenMap.of(lv["predictors"]))
                for lv in d["levels"]
            ),
            FrozenMap.of({k: ColumnNames(**c) for k, c in (d.get("kept") or {}).items()}),
        )


# --------------------------------------------------------------------------- model steps


@dataclass(frozen=True)
class FitSlice(Slice):
    """``fit``: one model under one estimator, the engine, the convergence ladder, the family
    options of a GLMM and ``df_method`` when a REML fit uses Kenward-Roger; the observation weights
    column, the residual structure (``correlation`` / ``variance`` strings) and the prior of
    Bayesian modal estimation when the plan sets them (absent otherwise, so slices of plans
    without them keep their bytes)."""

    model: str
    formula: str
    estimator: str
    backend: str
    convergence: ConvergenceSection | None
    glmm: GlmmOptions | None = None
    df_method: str | None = None
    weights: str | None = None
    correlation: str | None = None
    variance: str | None = None
    prior: Any = None

    _OPTIONAL = ("df_method", "weights", "correlation", "variance", "prior")

    def to_dict(self) -> dict:
        out = {
            "model": self.model,
            "formula": self.formula,
            "estimator": self.estimator,
            "backend": self.backend,
            "convergence": plain(self.convergence),
            **_glmm_dict(self.glmm),
        }
        return out | {
            k: plain(getattr(self, k)) for k in self._OPTIONAL if getattr(self, k) is not None
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> FitSlice:
        conv = d.get("convergence")
        return cls(
            model=d["model"],
            formula=d["formula"],
            estimator=d["estimator"],
            backend=d["backend"],
            convergence=ConvergenceSection.from_config(conv) if conv is not None else None,
            glmm=_glmm({k: d[k] for k in ("family", "link", "nagq")} if "family" in d else {}),
            df_method=d.get("df_method"),
            weights=d.get("weights"),
            correlation=d.get("correlation"),
            variance=d.get("variance"),
            prior=freeze(d["prior"]) if d.get("prior") is not None else None,
        )

    @property
    def reml(self) -> bool:
        return self.estimator == "reml"

    def fit_kwargs(self) -> dict:
        """Keyword arguments of ``mlmpipe.fit`` beyond the formula: family, link, nagq, df_method,
        weights, correlation, variance, prior (only those the plan sets)."""
        return _glmm_dict(self.glmm) | {
            k: plain(getattr(self, k)) for k in self._OPTIONAL if getattr(self, k) is not None
        }


@dataclass(frozen=True)
class DeltaSlice(Slice):
    """``delta``: the MNAR delta adjustment over the planned grid for one model / term, under the
    reporting estimator; a GLMM plan adds its family options and the seed (coupled redraws)."""

    outcome: str
    grid: tuple[float, ...]
    model: str
    formula: str
    term: str | None
    estimator: str
    alpha: float
    backend: str
    glmm: GlmmOptions | None = None
    seed: int | None = None

    def to_dict(self) -> dict:
        out = {
            "outcome": self.outcome,
            "grid": list(self.grid),
            "model": self.model,
            "formula": self.formula,
            "term": self.term,
            "estimator": self.estimator,
            "alpha": self.alpha,
            "backend": self.backend,
        }
        return out | ({"glmm": self.glmm.to_dict(), "seed": self.seed} if self.glmm else {})

    @classmethod
    def from_dict(cls, d: Mapping) -> DeltaSlice:
        return cls(
            d["outcome"], tuple(d["grid"]), d["model"], d["formula"], d["term"], d["estimator"],
            d["alpha"], d["backend"], _glmm(d.get("glmm")), d.get("seed"),
        )  # fmt: skip


@dataclass(frozen=True)
class ModelRef:
    """A model of the sequence as the downstream steps name it (``formula`` None: not needed)."""

    name: str
    label: str
    formula: str | None = None

    def to_dict(self) -> dict:
        out = {"name": self.name, "label": self.label}
        return out | ({"formula": self.formula} if self.formula is not None else {})


@dataclass(frozen=True)
class CompareSlice(Slice):
    """``compare``, ``effects``, ``diagnose``, ``apa_tables``, ``interactions``, ``profile_ci``,
    ``bootstrap``: the sequence, the estimators, alpha and the levels (name, ID column)."""

    models: tuple[ModelRef, ...]
    estimators: tuple[str, ...]
    alpha: float
    levels: tuple[tuple[str, str | None], ...]

    def to_dict(self) -> dict:
        return {
            "models": [m.to_dict() for m in self.models],
            "estimators": list(self.estimators),
            "alpha": self.alpha,
            "levels": [list(lv) for lv in self.levels],
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> CompareSlice:
        return cls(
            tuple(ModelRef(m["name"], m["label"], m.get("formula")) for m in d["models"]),
            tuple(d["estimators"]),
            d["alpha"],
            tuple((lv[0], lv[1]) for lv in d["levels"]),
        )

    @property
    def reporting_estimator(self) -> str:
        """REML when planned, else ML: the fits the effects, diagnostics and ICC report."""
        return reporting_estimator(self.estimators)

    @property
    def model_names(self) -> list[str]:
        return [m.name for m in self.models]

    @property
    def cluster_id(self) -> str:
        """ID column of the level-2 units (the first grouping level above the observations)."""
        return next(lv[1] for lv in self.levels[1:] if lv[1] is not None)


@dataclass(frozen=True)
class BootstrapBatchSlice(Slice):
    """``bootstrap_batch``: one batch of the parametric bootstrap, seeded by (seed, batch)."""

    seed: int
    batch: int
    resamples: int
    batches: int

    def to_dict(self) -> dict:
        return {
            "seed": self.seed,
            "batch": self.batch,
            "resamples": self.resamples,
            "batches": self.batches,
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> BootstrapBatchSlice:
        return cls(d["seed"], d["batch"], d["resamples"], d["batches"])


@dataclass(frozen=True)
class PredictionsSlice(Slice):
    """``predictions``: GLMM predictions of the final model at the planned covariate values."""

    model: str | None
    alpha: float
    predictions: PredictionsSection
    glmm: GlmmOptions | None = None

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "alpha": self.alpha,
            "predictions": self.predictions.to_dict(),
            **_glmm_dict(self.glmm),
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> PredictionsSlice:
        p = d["predictions"]
        return cls(
            d.get("model"),
            d["alpha"],
            PredictionsSection(freeze(p["at"]), p["focal"], p["moderator"], tuple(p["clusters"])),
            _glmm({k: d[k] for k in ("family", "link", "nagq")} if "family" in d else {}),
        )


@dataclass(frozen=True)
class ReportSlice(Slice):
    """``report`` and ``model_figures``: the report section, alpha, project, outcome, levels,
    model names and labels, hypotheses."""

    report: ReportSection
    alpha: float
    project: str
    outcome: str
    levels: tuple[tuple[str, str | None], ...]
    models: tuple[ModelRef, ...]
    hypotheses: tuple[Hypothesis, ...]

    def to_dict(self) -> dict:
        return {
            "report": self.report.to_dict(),
            "alpha": self.alpha,
            "project": self.project,
            "outcome": self.outcome,
            "levels": [list(lv) for lv in self.levels],
            "models": [m.to_dict() for m in self.models],
            "hypotheses": [h.to_dict() for h in self.hypotheses],
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> ReportSlice:
        return cls(
            ReportSection.from_config(d["report"]),
            d["alpha"],
            d["project"],
            d["outcome"],
            tuple((lv[0], lv[1]) for lv in d["levels"]),
            tuple(ModelRef(m["name"], m["label"]) for m in d["models"]),
            tuple(Hypothesis(**h) for h in d["hypotheses"]),
        )


__all__ = [
    "BootstrapBatchSlice",
    "BootstrapSection",
    "CenterLevel",
    "CenterSlice",
    "CompareSlice",
    "DeltaSlice",
    "FetchSlice",
    "FitSlice",
    "LevelCheck",
    "MissingSlice",
    "ModelRef",
    "OutlierChoice",
    "PredictionsSlice",
    "PredictorCheck",
    "ReportSlice",
    "Slice",
    "ValidateSlice",
]
