"""The validated plan: frozen typed sections, the derived facts, the step slices, variants.

Build a :class:`Plan` with :func:`load_plan` or :meth:`Plan.from_config` (the config is validated
once, by :func:`mlmpipe.plan.schema.validate_config`). Every step receives only its slice
(:mod:`mlmpipe.plan.slices`); :meth:`Plan.with_choices` returns a variant plan (a multiverse
specification, one imputed data set, an edited section) whose slices are those the main steps take.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import yaml

from mlmpipe.engine.priors import wider_prior_config
from mlmpipe.errors import PlanError
from mlmpipe.plan.classifications import (
    Classification,
    MembershipSection,
    check_design_missing,
    classification_variables,
    classifications_from_config,
    design_columns,
    design_entry,
    membership_from_config,
    with_classification_terms,
)
from mlmpipe.plan.frozen import FrozenMap, Section, canonical_json, freeze
from mlmpipe.plan.multiverse import (
    MULTIVERSE_M,
    NOT_APPLICABLE,
    OPTIONS,
    MultiverseContext,
    SensitivitySection,
    build_sensitivity,
)
from mlmpipe.plan.residual import (
    ResidualChoice,
    check_residual,
    check_residual_steps,
    check_weights,
)
from mlmpipe.plan.schema import validate_config
from mlmpipe.plan.sections import (
    CenteringNames,
    ChecksSection,
    ConvergenceSection,
    DataSection,
    DeltaSection,
    EstimationSection,
    GlmmOptions,
    Hypothesis,
    Level,
    MissingSection,
    ModelEntry,
    ModelSpec,
    Predictor,
    PreregistrationSection,
    ReportSection,
    SensitivityConfig,
    levels_from_config,
    with_fields,
)
from mlmpipe.plan.sequence import build_sequence, with_random
from mlmpipe.plan.slices import (
    BootstrapBatchSlice,
    CenterLevel,
    CenterSlice,
    ColumnNames,
    CompareSlice,
    DeltaSlice,
    FetchSlice,
    FitSlice,
    LevelCheck,
    MissingSlice,
    ModelRef,
    OutlierChoice,
    PredictionsSlice,
    PredictorCheck,
    ReportSlice,
    ValidateSlice,
)
from mlmpipe.plan.survey import (
    SurveySection,
    check_survey_estimation,
    outcome_column,
    survey_from_config,
)
from mlmpipe.plan_family import check_family

#: Sections :meth:`Plan.with_choices` may override field by field (``name={"field": value}``).
SECTIONS = (
    "data", "centering_names", "checks", "missing", "estimation", "convergence", "report",
    "preregistration",
)  # fmt: skip
#: Multiverse dimensions :meth:`Plan.with_choices` understands (besides ``centering.<var>``).
DIMENSIONS = (
    "random", "missing", "estimator", "prior", "df", "outliers", "method", "imputation",
    "plausible_value",
)  # fmt: skip


def _check_estimation(est: EstimationSection) -> None:
    check_family(est.family, est.link)
    if est.df_method == "kenward_roger" and est.backend != "mlmpipe":
        raise PlanError("estimation.df_method: kenward_roger needs backend 'mlmpipe'")
    if est.family != "gaussian" and "reml" in est.estimators:
        raise PlanError(
            f"estimation.estimators: family {est.family!r} has no REML criterion; allowed: [ml]"
        )


def _check_residuals(
    est: EstimationSection, entries: tuple[ModelEntry, ...], levels: tuple[Level, ...], outcome: str
) -> None:
    """``estimation.weights``, ``estimation.residual`` and each model's ``residual`` against the
    family, the engine and the plan's levels (:mod:`mlmpipe.plan.residual`)."""
    ids = [(lv.name, lv.id) for lv in levels]
    check_weights(est.weights, est.family, est.backend, [i for _, i in ids if i] + [outcome])
    check_residual(est.residual, "estimation.residual", est.family, ids, est.backend)
    for i, e in enumerate(entries):
        check_residual(e.residual, f"models[{i}].residual", est.family, ids, est.backend)
    if est.method == "bayes_modal" and (
        (est.residual is not None and est.residual.active)
        or any(e.residual is not None and e.residual.active for e in entries)
    ):
        raise PlanError("estimation.prior: bayes_modal is not available with a residual structure")


def _check_time_variable(name: str | None, levels: tuple[Level, ...]) -> None:
    """``report.time_variable`` must name a continuous level-1 predictor of a multilevel plan."""
    if name is None:
        return
    level1 = {p.name: p for p in levels[0].predictors}
    if len(levels) < 2 or name not in level1 or level1[name].type != "continuous":
        allowed = [p.name for p in levels[0].predictors if p.type == "continuous"]
        raise PlanError(
            f"report.time_variable: {name!r} is not a continuous predictor of level "
            f"{levels[0].name!r} (the repeated measures); allowed: {allowed}"
        )


def _model_variables(levels: tuple[Level, ...], names: CenteringNames) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, lv in enumerate(levels):
        for p in lv.predictors:
            out[p.name] = p.level
            if p.centering in ("grand", "group"):
                out[names.centered(p.name)] = p.level
            if p.centering == "group":
                out[names.cluster_mean(p.name)] = levels[i + 1].name
    return out


@dataclass(frozen=True)
class Plan:
    """The validated plan: typed, frozen sections and the facts derived from them.

    ``outliers``, ``method``, ``imputation`` and ``kept_columns`` are set by :meth:`with_choices`
    only (a plan analyses all clusters with the mixed model, pools every imputation and names its
    centred columns by its own rules).
    """

    project: str
    seed: int
    alpha: float
    data: DataSection
    outcome: str
    outcome_range: tuple[float, float] | None
    levels: tuple[Level, ...]
    centering_names: CenteringNames
    checks: ChecksSection
    missing: MissingSection
    model_entries: tuple[ModelEntry, ...]
    models: tuple[ModelSpec, ...]
    estimation: EstimationSection
    convergence: ConvergenceSection
    hypotheses: tuple[Hypothesis, ...]
    report: ReportSection
    preregistration: PreregistrationSection
    deviations: FrozenMap[str, str]
    sensitivity: SensitivitySection
    outliers: OutlierChoice | None = None
    method: str = "mlm"
    imputation: int | None = None
    kept_columns: FrozenMap[str, ColumnNames] = FrozenMap()
    #: ``survey`` (weights, scaling, plausible values; :mod:`mlmpipe.plan.survey`), None without
    survey: SurveySection | None = None
    #: set by ``with_choices(plausible_value=k)``: the variant analyses the k-th plausible value
    plausible_value: int | None = None
    #: ``classifications`` crossing the hierarchy and ``membership`` (multiple membership;
    #: :mod:`mlmpipe.plan.classifications`): empty / None for a purely nested plan
    classifications: tuple[Classification, ...] = ()
    membership: MembershipSection | None = None

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_config(cls, config: dict, schema: Any = None) -> Plan:
        """Validate ``config`` (schema + defaults, once) and build the typed plan."""
        cfg = validate_config(config, schema)
        outcome = outcome_column(cfg["outcome"])
        levels = levels_from_config(cfg["levels"], outcome)
        survey = survey_from_config(cfg.get("survey"), cfg["outcome"], levels)
        missing = MissingSection.from_config(cfg["missing"])
        estimation = EstimationSection.from_config(cfg["estimation"])
        _check_estimation(estimation)
        check_survey_estimation(survey, estimation.estimators)
        names = CenteringNames.from_config(cfg["centering"])
        entries = tuple(ModelEntry.from_config(e) for e in cfg["models"])
        _check_residuals(estimation, entries, levels, outcome)
        check_residual_steps(estimation, entries, cfg["report"]["bootstrap"])
        classifications = classifications_from_config(cfg.get("classifications"), levels)
        membership = membership_from_config(cfg.get("membership"), levels, classifications)
        check_design_missing(classifications, membership, missing.imputes)
        known = {**_model_variables(levels, names), **classification_variables(classifications)}
        models = build_sequence(entries, outcome, levels[1:], known)
        models = with_classification_terms(models, classifications, membership, levels)
        model_names = [m.name for m in models]
        hypotheses = tuple(Hypothesis(**h) for h in cfg["hypotheses"])
        for i, h in enumerate(hypotheses):
            if h.model not in model_names:
                raise PlanError(
                    f"hypotheses[{i}].model: no model named {h.model!r}; models are {model_names}"
                )
        report = ReportSection.from_config(cfg["report"])
        _check_time_variable(report.time_variable, levels)
        rng = cfg["outcome"]["range"]
        plan = cls(
            project=cfg["project"],
            seed=cfg["seed"],
            alpha=cfg["alpha"],
            data=DataSection.from_config(cfg["data"]),
            outcome=outcome,
            outcome_range=tuple(rng) if rng else None,
            levels=levels,
            centering_names=names,
            checks=ChecksSection.from_config(cfg["checks"]),
            missing=missing,
            model_entries=entries,
            models=models,
            estimation=estimation,
            convergence=ConvergenceSection.from_config(cfg["convergence"]),
            hypotheses=hypotheses,
            report=report,
            preregistration=PreregistrationSection.from_config(cfg["preregistration"]),
            deviations=freeze(cfg["deviations"]),
            sensitivity=None,  # resolved below: it needs the plan's slices
            survey=survey,
            classifications=classifications,
            membership=membership,
        )
        plan.data.codes_for(plan._coded_columns())  # a code list naming an unknown column
        sens = build_sensitivity(
            SensitivityConfig.from_config(cfg["sensitivity"]), plan.multiverse_context()
        )
        return replace(plan, sensitivity=sens)

    def to_config(self) -> dict:
        """The validated, default-filled config this plan was built from (its edited sections for
        a variant), as plain JSON values: the frozen / executed plan of the preregistration."""
        out = self._to_config()
        if self.survey is not None:  # absent without one: older plans keep their hash
            out["outcome"] = {"range": out["outcome"]["range"], **self.survey.outcome_config()}
            out["survey"] = self.survey.to_config()
        if self.classifications:  # absent from nested plans: their hash is unchanged
            out["classifications"] = [c.to_config() for c in self.classifications]
        if self.membership is not None:
            out["membership"] = self.membership.to_config()
        return out

    def _to_config(self) -> dict:
        return {
            "project": self.project,
            "seed": self.seed,
            "alpha": self.alpha,
            "data": self.data.to_config(),
            "outcome": {"name": self.outcome, "range": _plain_range(self.outcome_range)},
            "levels": [lv.to_config() for lv in self.levels],
            "centering": self.centering_names.to_config(),
            "checks": self.checks.to_config(),
            "missing": self.missing.to_config(),
            "models": [e.to_config() for e in self.model_entries],
            "estimation": self.estimation.to_config(),
            "sensitivity": self.sensitivity.planned.to_config(),
            "preregistration": self.preregistration.to_config(),
            "hypotheses": [h.to_dict() for h in self.hypotheses],
            "convergence": self.convergence.to_config(),
            "deviations": dict(self.deviations),
            "report": self.report.to_config(),
        }

    @property
    def config(self) -> dict:
        """Same as :meth:`to_config` (kept for readers of the dict-valued plan)."""
        return self.to_config()

    @property
    def hash(self) -> str:
        """SHA-256 of the canonical JSON of the validated config."""
        return hashlib.sha256(canonical_json(self.to_config()).encode()).hexdigest()

    def multiverse_context(self) -> MultiverseContext:
        """What resolving the ``sensitivity`` section needs of this plan."""
        return MultiverseContext(
            levels=self.levels,
            models=self.models,
            alpha=self.alpha,
            glmm=self.glmm,
            bayes_modal=self.estimation.method == "bayes_modal",
        )

    # ---------------------------------------------------------------- derived facts
    @property
    def estimators(self) -> tuple[str, ...]:
        return self.estimation.estimators

    @property
    def backend(self) -> str:
        return self.estimation.backend

    @property
    def glmm(self) -> GlmmOptions | None:
        """Family options of a non-gaussian plan (None: a linear mixed model)."""
        return self.estimation.glmm

    @property
    def reporting_estimator(self) -> str:
        """The estimator whose fits are reported (effects, diagnostics, delta, figures): REML
        when planned, else ML."""
        return self.estimation.reporting_estimator

    @property
    def predictors(self) -> tuple[Predictor, ...]:
        return tuple(p for lv in self.levels for p in lv.predictors)

    @property
    def id_columns(self) -> tuple[str, ...]:
        return tuple(lv.id for lv in self.levels if lv.id)

    @property
    def cluster_levels(self) -> tuple[Level, ...]:
        """Levels 2..L (those that define clusters and random effects)."""
        return self.levels[1:]

    def level(self, name: str) -> Level:
        for lv in self.levels:
            if lv.name == name:
                return lv
        raise PlanError(
            f"levels: no level named {name!r}; levels are {[x.name for x in self.levels]}"
        )

    def parent_of(self, level_name: str) -> Level | None:
        names = [lv.name for lv in self.levels]
        i = names.index(level_name)
        return self.levels[i + 1] if i + 1 < len(self.levels) else None

    def centered_name(self, p: Predictor) -> str:
        return self.centering_names.centered(p.name)

    def cluster_mean_name(self, p: Predictor) -> str:
        return self.centering_names.cluster_mean(p.name)

    def model_variables(self) -> dict[str, str]:
        """Variables a model may use, mapped to the level where they live."""
        return _model_variables(self.levels, self.centering_names)

    @property
    def model_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.models)

    def model(self, name: str) -> ModelSpec:
        for m in self.models:
            if m.name == name:
                return m
        raise PlanError(f"models: no model named {name!r}; models are {list(self.model_names)}")

    @property
    def final_model(self) -> str:
        """The last model of the sequence (diagnosed, interpreted, predicted)."""
        return self.models[-1].name

    @property
    def bootstrap_model(self) -> str:
        """The model of the parametric bootstrap (``report.bootstrap.model``, else the final)."""
        return self.report.bootstrap.model or self.final_model

    @property
    def nesting(self) -> tuple[int, int]:
        """``(plausible values, imputations per plausible value)``: ``(0, m)`` without plausible
        values; with ``P`` of them ``(P, m)`` under imputation, else ``(P, 1)``."""
        n = self.survey.n_plausible_values if self.survey is not None else 0
        return (n, max(self.missing.m, 1)) if n else (0, self.missing.m)

    @property
    def imputations(self) -> tuple[int, ...]:
        """Data sets the missing step writes: ``0`` (observed / listwise) and ``1..m`` if imputing;
        with ``P`` plausible values ``1..P*m`` (data set ``(k - 1) m + j`` is imputation ``j`` of
        plausible value ``k``; ``m = 1`` without imputation)."""
        n, m = self.nesting
        return tuple(range(n * m + 1)) if n else tuple(range(m + 1))

    @property
    def pooled_imputations(self) -> tuple[int, ...]:
        """Data sets whose fits are pooled: ``(0,)`` without imputation, else ``1..m`` (a variant
        made with ``imputation=k``: ``(k,)``; with ``plausible_value=k``: that value's data
        sets)."""
        if self.imputation is not None:
            return (self.imputation,)
        n, m = self.nesting
        if n:
            ks = [self.plausible_value] if self.plausible_value else range(1, n + 1)
            return tuple((k - 1) * m + j for k in ks for j in range(1, m + 1))
        return tuple(range(1, self.missing.m + 1)) if self.missing.m else (0,)

    def plausible_value_columns(self) -> tuple[FrozenMap[str, str], ...] | None:
        """Per plausible value ``k``: analysed column -> the data column holding its k-th value
        (the missing step copies them before handling missing data). None without."""
        if self.survey is None or not self.survey.n_plausible_values:
            return None
        out = []
        for k in range(1, self.survey.n_plausible_values + 1):
            cols = self.survey.pv_columns(k)
            if "__outcome__" in cols:
                cols[self.outcome] = cols.pop("__outcome__")
            out.append(FrozenMap.of(cols))
        return tuple(out)

    def interaction_pairs(self) -> list[list[str]]:
        """Pairs of raw variables whose product enters some model (``cses:sector`` -> ses, sector),
        for the imputation models."""
        raw = {}
        for p in self.predictors:
            raw[p.name] = raw[self.centered_name(p)] = raw[self.cluster_mean_name(p)] = p.name
        pairs = []
        for m in self.models:
            for term in m.fixed:
                parts = [raw[v] for v in term.split(":") if v in raw]
                for i, a in enumerate(parts):
                    for b in parts[i + 1 :]:
                        if a != b and [a, b] not in pairs:
                            pairs.append([a, b])
        return pairs

    def glmm_options(self) -> dict:
        """``family``, ``link``, ``nagq`` of a non-gaussian plan for ``mlmpipe.fit`` (else empty)."""
        return self.glmm.to_dict() if self.glmm is not None else {}

    def df_options(self, estimator: str) -> dict:
        """``df_method`` of a REML linear mixed model fit when it is Kenward-Roger (else empty)."""
        method = self.estimation.df_method_for(estimator)
        return {"df_method": method} if method else {}

    @property
    def delta_extreme(self) -> float | None:
        """The ``missing.delta.grid`` value of largest magnitude (None without a grid)."""
        grid = [float(x) for x in self.missing.delta.grid]
        return max(grid, key=abs) if grid else None

    # ---------------------------------------------------------------- per-step slices (typed)
    def fetch_slice(self) -> FetchSlice:
        return FetchSlice(self.data.source, self.data.example, self.data.file)

    def validate_slice(self) -> ValidateSlice:
        """Everything validation needs; deliberately excludes centering decisions and models."""
        return ValidateSlice(
            format=self.data.format,
            outcome=self.outcome,
            outcome_range=self.outcome_range,
            levels=tuple(
                LevelCheck(
                    lv.name,
                    lv.id,
                    lv.ids_local_to_parent,
                    FrozenMap.of(
                        {p.name: PredictorCheck(p.type, p.levels, p.range) for p in lv.predictors}
                    ),
                )
                for lv in self.levels
            ),
            checks=self.checks,
            family="ordinal" if self.estimation.family == "ordinal" else None,
            encoding=self.data.encoding,
            missing_codes=freeze(self.data.codes_for(self._coded_columns())),
            extra_columns=tuple(self.residual_columns()) + design_columns(self),
            survey=freeze(self.survey.validate_entry(self.outcome, self.levels))
            if self.survey is not None
            else None,
            sheet=self.data.sheet,
            design=design_entry(self),
        )

    def _coded_columns(self) -> list[str]:
        """The columns ``data.missing_codes`` may name: the outcome and every predictor."""
        return list(dict.fromkeys([self.outcome, *(p.name for p in self.predictors)]))

    def missing_slice(self) -> MissingSlice:
        mi = self.missing.imputes
        return MissingSlice(
            missing=self.missing,
            seed=self.seed,
            # only under imputation do model edits (their interactions) rerun the missing step
            interactions=tuple(tuple(p) for p in self.interaction_pairs()) if mi else None,
            # a binary or count outcome is imputed by PMM (mlmpipe.missing.outcome_kind)
            family=self.glmm.family if mi and self.glmm is not None else None,
            outliers=self.outliers,
            plausible_values=self.plausible_value_columns(),
        )

    def center_slice(self) -> CenterSlice:
        return CenterSlice(
            self.centering_names.centered_name,
            self.centering_names.cluster_mean_name,
            tuple(
                CenterLevel(
                    lv.name, lv.id, FrozenMap.of({p.name: p.centering for p in lv.predictors})
                )
                for lv in self.levels
            ),
            self.kept_columns,
        )

    def residual_of(self, model: str) -> ResidualChoice | None:
        """The residual structure of one model: its own ``residual``, else the plan's
        ``estimation.residual`` (None: independent residuals)."""
        m = self.model(model)
        choice = m.residual if m.residual is not None else self.estimation.residual
        return choice if choice is not None and choice.active else None

    def residual_columns(self) -> list[str]:
        """Data columns the residual structures and observation weights read."""
        cols = [self.estimation.weights] if self.estimation.weights else []
        for m in self.models:
            choice = self.residual_of(m.name)
            cols += choice.columns() if choice is not None else []
        return list(dict.fromkeys(cols))

    def fit_slice(self, model: str, estimator: str) -> FitSlice:
        m = self.model(model)
        choice = self.residual_of(model)
        return FitSlice(
            model=m.name,
            formula=m.formula,
            estimator=estimator,
            backend=self.backend,
            convergence=self.convergence,
            glmm=self.glmm,
            df_method=self.estimation.df_method_for(estimator),
            weights=self.estimation.weights,
            correlation=choice.correlation if choice is not None else None,
            variance=choice.variance if choice is not None else None,
            prior=self.estimation.fit_prior,
        )

    def delta_slice(self) -> DeltaSlice:
        """MNAR delta adjustment: outcome, grid, and the model / term whose conclusion is tested
        (default: the last model of the sequence), under the reporting estimator."""
        d = self.missing.delta
        m = self.model(d.model) if d.model else self.models[-1]
        return DeltaSlice(
            outcome=self.outcome,
            grid=d.grid,
            model=m.name,
            formula=m.formula,
            term=d.term,
            estimator=self.reporting_estimator,
            alpha=self.alpha,
            backend=self.backend,
            # non-gaussian plans: link-scale shift, seeded coupled draws
            glmm=self.glmm,
            seed=self.seed if self.glmm is not None else None,
        )

    def compare_slice(self) -> CompareSlice:
        return CompareSlice(
            models=tuple(ModelRef(m.name, m.label, m.formula) for m in self.models),
            estimators=self.estimators,
            alpha=self.alpha,
            levels=tuple((lv.name, lv.id) for lv in self.levels),
        )

    def predictions_slice(self) -> PredictionsSlice:
        """GLMM predictions of the final model (``report.predictions``)."""
        return PredictionsSlice(self.final_model, self.alpha, self.report.predictions, self.glmm)

    def report_slice(self) -> ReportSlice:
        return ReportSlice(
            report=self.report,
            alpha=self.alpha,
            project=self.project,
            outcome=self.outcome,
            levels=tuple((lv.name, lv.id) for lv in self.levels),
            models=tuple(ModelRef(m.name, m.label) for m in self.models),
            hypotheses=self.hypotheses,
        )

    def bootstrap_batch_slice(self, batch: int) -> BootstrapBatchSlice:
        b = self.report.bootstrap
        return BootstrapBatchSlice(self.seed, int(batch), b.resamples, b.batches)

    # ---------------------------------------------------------------- rule parameters (JSON)
    def slice_fetch(self) -> str:
        return self.fetch_slice().to_json()

    def slice_validate(self) -> str:
        return self.validate_slice().to_json()

    def slice_missing(self) -> str:
        return self.missing_slice().to_json()

    def slice_center(self) -> str:
        return self.center_slice().to_json()

    def slice_fit(self, model: str, estimator: str) -> str:
        return self.fit_slice(model, estimator).to_json()

    def slice_delta(self) -> str:
        return self.delta_slice().to_json()

    def slice_compare(self) -> str:
        return self.compare_slice().to_json()

    def slice_predictions(self) -> str:
        return self.predictions_slice().to_json()

    def slice_report(self) -> str:
        return self.report_slice().to_json()

    def slice_bootstrap_batch(self, batch: int) -> str:
        return self.bootstrap_batch_slice(batch).to_json()

    # ---------------------------------------------------------------- variants
    def with_choices(self, **choices: Any) -> Plan:
        """A variant of this plan: the same pipeline with some analytic choices changed.

        Multiverse dimensions (values ``"-"``, not applicable, are ignored):

        * ``centering={"ses": "grand"}`` (or ``**{"centering.ses": "grand"}``): that predictor's
          centering (the center slice and everything downstream of it). Model formulas keep
          their column names (the centred column is recomputed under the new rule).
        * ``random``: ``slopes`` (as planned), ``intercept`` (random slopes of every staged model
          removed, kept as fixed effects) or ``uncorrelated`` (lme4 ``||``): the models' formulas,
          hence the fit slices.
        * ``missing``: ``listwise`` (complete cases; keeps the plan's section if it is listwise),
          ``imputation`` (multiple imputation: the plan's own settings if it imputes, else
          ``m`` = :data:`MULTIVERSE_M`, no delta analysis), ``delta`` (imputation with the delta
          grid reduced to the plan's largest |delta|; needs a planned grid): the missing slice.
        * ``estimator``: ``reml`` / ``ml`` - the only estimator fitted (``estimation.estimators``).
        * ``df``: ``satterthwaite`` / ``kenward_roger`` (``estimation.df_method``).
        * ``outliers``: ``all`` / ``drop_influential`` (clusters flagged by the influence analysis
          at ``sensitivity.influence_cutoff`` are dropped: an ``outliers`` entry of the missing
          slice).
        * ``method``: ``mlm`` or an alternative estimator (recorded on the variant; the main fit
          step fits ``mlm`` only).
        * ``imputation=k``: analyse data set ``k`` only (``pooled_imputations == (k,)``).

        Sections (``data``, ``centering_names``, ``checks``, ``missing``, ``estimation``,
        ``convergence``, ``report``, ``preregistration``) take a mapping of field overrides, e.g.
        ``estimation={"estimators": ("ml",)}``; the estimation and missing rules are checked again.
        The multiverse (``sensitivity``) is the plan's and is not recomputed; ``with_choices()``
        with no choices returns an equal plan.
        """
        plan = self
        for key, value in choices.items():
            if key in SECTIONS and isinstance(value, Mapping):
                plan = plan._with_section(key, value)
        centering = (
            dict(choices.get("centering") or {})
            if isinstance(choices.get("centering"), Mapping)
            else {}
        )
        for key, value in choices.items():
            if key.startswith("centering."):
                centering[key.split(".", 1)[1]] = value
            elif key not in SECTIONS + DIMENSIONS + ("centering",):
                raise PlanError(
                    f"with_choices: unknown choice {key!r}; allowed: centering.<variable>, "
                    f"{', '.join(DIMENSIONS)}, or a section: {', '.join(SECTIONS)}"
                )
            elif key == "centering" and not isinstance(value, Mapping):
                raise PlanError("with_choices: centering takes {variable: none/grand/group}")
            elif key in SECTIONS and key not in DIMENSIONS and not isinstance(value, Mapping):
                raise PlanError(f"with_choices: {key} takes a mapping of field overrides")
            elif key in OPTIONS and not isinstance(value, Mapping):
                if value != NOT_APPLICABLE and value not in OPTIONS[key]:
                    raise PlanError(
                        f"with_choices: {key} {value!r} is not allowed; allowed: "
                        f"{', '.join(OPTIONS[key])}"
                    )
        planned = {p.name: p.centering for p in self.predictors}
        for var, method in centering.items():
            if method != NOT_APPLICABLE and planned.get(var, method + "?") != method:
                plan = plan._with_centering(var, method)
        for key in DIMENSIONS:
            value = choices.get(key)
            if value is None or value == NOT_APPLICABLE or isinstance(value, Mapping):
                continue
            plan = getattr(plan, f"_choose_{key}")(value)
        return plan

    def _with_section(self, name: str, changes: Mapping) -> Plan:
        changes = dict(changes)
        if name == "missing" and "m" in changes:
            changes["planned_m"] = changes["m"]  # the plan now says how many
        section = with_fields(getattr(self, name), changes)
        if name == "missing":
            section = MissingSection.from_config(section.to_config())
        if name == "estimation":
            _check_estimation(section)
        return replace(self, **{name: section})

    def _with_centering(self, var: str, method: str) -> Plan:
        if method not in ("none", "grand", "group"):
            raise PlanError(
                f"with_choices: centering.{var} {method!r} is not allowed; allowed: none, grand, "
                "group"
            )
        levels = []
        found = False
        kept = dict(self.kept_columns)
        for i, lv in enumerate(self.levels):
            preds = []
            for p in lv.predictors:
                if p.name == var:
                    found = True
                    if var not in kept:  # the models keep the planned columns
                        column = self.centered_name(p) if p.centering != "none" else p.name
                        kept[var] = ColumnNames(column, self.cluster_mean_name(p))
                    if method != "none" and p.type != "continuous":
                        raise PlanError(f"with_choices: centering.{var}: {var!r} is not continuous")
                    if method == "group" and i == len(self.levels) - 1:
                        raise PlanError(
                            f"with_choices: centering.{var}: 'group' needs a higher level"
                        )
                    p = replace(p, centering=method)
                preds.append(p)
            levels.append(replace(lv, predictors=tuple(preds)))
        if not found:
            raise PlanError(f"with_choices: centering.{var}: no predictor named {var!r}")
        return replace(self, levels=tuple(levels), kept_columns=FrozenMap.of(kept))

    def _choose_random(self, structure: str) -> Plan:
        models = []
        for m in self.models:
            new = with_random(m, self.outcome, self.cluster_levels, structure)
            if new is not m:  # rebuilt from the levels: the design's terms go back in
                new = with_classification_terms(
                    (new,), self.classifications, self.membership, self.levels
                )[0]
            models.append(new)
        return replace(self, models=tuple(models))

    def _choose_missing(self, method: str) -> Plan:
        if method == "listwise":
            if self.missing.method == "listwise":
                return self
            section = replace(
                self.missing, method="listwise", m=0, planned_m=0, delta=DeltaSection()
            )
        elif method in ("imputation", "delta"):
            section = self.missing
            if not section.imputes:
                section = replace(
                    section, method="multiple_imputation", m=MULTIVERSE_M, planned_m=MULTIVERSE_M
                )
            if method == "imputation" and not self.missing.imputes:
                section = replace(section, delta=DeltaSection())
            if method == "delta":
                extreme = self.delta_extreme
                if extreme is None:
                    raise PlanError(
                        "with_choices: missing=delta needs missing.delta.grid in the plan (the "
                        "shift is its largest |delta|)"
                    )
                section = replace(section, delta=replace(section.delta, grid=(extreme,)))
        else:
            raise PlanError(
                f"with_choices: missing {method!r} is not allowed; allowed: listwise, imputation, "
                "delta"
            )
        return replace(self, missing=section)

    def _choose_estimator(self, estimator: str) -> Plan:
        if estimator == "bayes_modal":  # the posterior mode under the plan's prior (or blme's)
            est = self.estimation
            if (est.residual is not None and est.residual.active) or any(
                e.residual is not None and e.residual.active for e in self.model_entries
            ):
                raise PlanError(
                    "with_choices: estimator=bayes_modal is not available with a residual structure"
                )
            return self._with_section(
                "estimation", {"estimators": (self.reporting_estimator,), "method": "bayes_modal"}
            )
        return self._with_section("estimation", {"estimators": (estimator,)})

    def _choose_prior(self, choice: str) -> Plan:
        if choice == "default":
            return self
        if choice != "wider":
            raise PlanError(
                f"with_choices: prior {choice!r} is not allowed; allowed: default, wider"
            )
        if self.estimation.method != "bayes_modal":
            raise PlanError(
                "with_choices: prior=wider varies the prior of Bayesian modal fits; the plan's "
                "fits are likelihood fits (add estimator=bayes_modal)"
            )
        return self._with_section(
            "estimation", {"prior": wider_prior_config(self.estimation.prior)}
        )

    def _choose_df(self, method: str) -> Plan:
        return self._with_section("estimation", {"df_method": method})

    def _choose_outliers(self, choice: str) -> Plan:
        if choice not in ("all", "drop_influential"):
            raise PlanError(
                f"with_choices: outliers {choice!r} is not allowed; allowed: all, drop_influential"
            )
        cutoff = self.sensitivity.planned.influence_cutoff
        return replace(self, outliers=OutlierChoice(cutoff) if choice != "all" else None)

    def _choose_method(self, method: str) -> Plan:
        return replace(self, method=method)

    def _choose_plausible_value(self, k: int) -> Plan:
        n = self.survey.n_plausible_values if self.survey is not None else 0
        if not 1 <= int(k) <= n:
            raise PlanError(
                f"with_choices: plausible_value {k} is not one of this plan's plausible values; "
                f"allowed: {list(range(1, n + 1)) or 'none (outcome.plausible_values is not set)'}"
            )
        return replace(self, plausible_value=int(k))

    def _choose_imputation(self, k: int) -> Plan:
        if int(k) not in self.imputations:
            raise PlanError(
                f"with_choices: imputation {k} is not a data set of this plan; allowed: "
                f"{list(self.imputations)}"
            )
        return replace(self, imputation=int(k))


def _plain_range(value: tuple | None) -> list | None:
    return list(value) if value is not None else None


def yaml_error_message(path: str | Path, exc: yaml.YAMLError) -> str:
    """One line for a YAML syntax error: file, line and column (1-based) and the parser's reason."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"{path} line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    return f"{where}: not valid YAML: {problem}" + (f" ({context})" if context else "")


def plan_yaml_problem(path: str | Path) -> str | None:
    """The YAML syntax error of a plan file as one line (None when it parses or does not exist)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        return yaml_error_message(path, exc)
    except UnicodeDecodeError as exc:
        return f"{path}: not UTF-8 text (byte {exc.start}); save the plan as UTF-8"
    return None


def load_plan(path: str | Path, schema: Any = None) -> Plan:
    """Read a plan YAML file, validate it and return a :class:`Plan`."""
    path = Path(path)
    if not path.exists():
        raise PlanError(f"plan file {str(path)!r} does not exist")
    problem = plan_yaml_problem(path)
    if problem:
        raise PlanError(problem)
    with open(path, encoding="utf-8") as fh:
        cfg = yaml.safe_load(fh)
    return Plan.from_config(cfg or {}, schema)


def walk_fields(value: Any) -> list[tuple[str, type]]:
    """``(path, type)`` of every mutable container (dict, list, set) reachable from a plan's
    fields: empty for a fully typed, frozen plan."""
    found: list[tuple[str, type]] = []

    def visit(v: Any, where: str) -> None:
        if isinstance(v, dict | list | set):
            found.append((where, type(v)))
            return
        if isinstance(v, FrozenMap):
            for k, x in v.items():
                visit(x, f"{where}[{k!r}]")
        elif isinstance(v, tuple):
            for i, x in enumerate(v):
                visit(x, f"{where}[{i}]")
        elif hasattr(v, "__dataclass_fields__"):
            for f in fields(v):
                visit(getattr(v, f.name), f"{where}.{f.name}")

    visit(value, "plan")
    return found


__all__ = ["Plan", "load_plan", "plan_yaml_problem", "walk_fields", "Section"]
