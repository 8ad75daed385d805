"""The frozen, typed sections of a validated plan (one class per section of the config).

Each ``from_config`` reads its part of the schema-validated, default-filled config; each
``to_config`` gives that part back exactly, so :meth:`mlmpipe.plan.Plan.to_config` reproduces the
validated config (and with it :attr:`mlmpipe.plan.Plan.hash`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar

from mlmpipe.errors import PlanError
from mlmpipe.plan.frozen import FrozenMap, Section, freeze, plain
from mlmpipe.plan.residual import ResidualChoice

PREDICTOR_TYPES = ("continuous", "binary", "categorical")
CENTERINGS = ("none", "grand", "group")
ESTIMATORS = ("reml", "ml")


def reporting_estimator(estimators: tuple[str, ...] | list[str]) -> str:
    """The estimator whose fits are reported (effects, diagnostics, ICC, delta, figures): REML
    when the plan estimates it, else ML."""
    return "reml" if "reml" in estimators else "ml"


class _LaterKeys:
    """Keys added to a section after plans were frozen and pinned: left out of ``to_dict`` (the
    config, the plan hash, the rule parameters) while they hold their default, so an existing plan
    keeps its hash and its cached jobs."""

    LATER: ClassVar[dict[str, Any]] = {}

    def to_dict(self) -> dict:
        d = super().to_dict()  # type: ignore[misc]
        for key, default in self.LATER.items():
            if d.get(key) == default:
                d.pop(key)
        return d


def _tuple_or_none(value: list | None) -> tuple | None:
    return tuple(value) if value is not None else None


@dataclass(frozen=True)
class DataSection(_LaterKeys, Section):
    """``data``: where the raw table comes from, its format and encoding, its missing-value
    codes."""

    LATER: ClassVar[dict[str, Any]] = {"encoding": "auto", "missing_codes": [], "sheet": None}

    source: str
    example: str
    file: str
    format: str
    encoding: str = "auto"
    #: ``data.missing_codes`` as written: a tuple (every outcome and predictor column) or a map
    #: column -> tuple; :meth:`codes_for` resolves it per column.
    missing_codes: tuple | FrozenMap = ()
    sheet: str | None = None  # data.sheet: the Excel sheet (default the first)

    @classmethod
    def from_config(cls, d: dict) -> DataSection:
        f = d["file"]  # a name under data/raw/: a plan never reads or writes outside the project
        parts = f.replace("\\", "/").split("/")
        if not f.strip() or f.startswith(("/", "\\", "~")) or ":" in parts[0] or ".." in parts:
            raise PlanError(
                f"data.file: {f!r} must be a file name under data/raw/ (no '..', not an "
                "absolute path)"
            )
        codes = d.get("missing_codes", [])
        return cls(
            d["source"],
            d["example"],
            f,
            d["format"],
            d.get("encoding", "auto"),
            freeze(codes),
            None if d.get("sheet") is None else str(d["sheet"]),
        )

    def codes_for(self, columns: list[str]) -> dict[str, tuple]:
        """``data.missing_codes`` per column of ``columns`` (one that names no such column is an
        error naming it)."""
        if isinstance(self.missing_codes, FrozenMap):
            unknown = [c for c in self.missing_codes if c not in columns]
            if unknown:
                raise PlanError(
                    f"data.missing_codes: {unknown[0]!r} is not an outcome or predictor of the "
                    f"plan; allowed: {columns}"
                )
            return {c: tuple(v) for c, v in self.missing_codes.items() if v}
        return {c: tuple(self.missing_codes) for c in columns} if self.missing_codes else {}

    def to_config(self) -> dict:
        return self.to_dict()


@dataclass(frozen=True)
class Predictor(Section):
    """One declared predictor: its level, type, centering and (optional) categories and range."""

    name: str
    level: str
    type: str = "continuous"
    centering: str = "none"
    levels: tuple | None = None
    range: tuple[float, float] | None = None

    def to_config(self) -> dict:
        return {
            "type": self.type,
            "centering": self.centering,
            "levels": plain(self.levels),
            "range": plain(self.range),
        }


@dataclass(frozen=True)
class Level(Section):
    """One level of the hierarchy (level 1 first): its ID column and predictors."""

    name: str
    id: str | None
    ids_local_to_parent: bool
    predictors: tuple[Predictor, ...]

    def to_config(self) -> dict:
        return {
            "name": self.name,
            "id": self.id,
            "ids_local_to_parent": self.ids_local_to_parent,
            "predictors": {p.name: p.to_config() for p in self.predictors},
        }


def levels_from_config(levels: list[dict], outcome: str) -> tuple[Level, ...]:
    """The ``levels`` section, checked: IDs above level 1, unique names, centring allowed."""
    out = []
    seen: dict[str, str] = {}
    for i, lv in enumerate(levels):
        if i > 0 and not lv["id"]:
            raise PlanError(f"levels[{i}].id: level {lv['name']!r} needs an ID column")
        preds = []
        for pname, p in lv["predictors"].items():
            if pname in seen:
                raise PlanError(
                    f"levels[{i}].predictors.{pname}: already declared at level {seen[pname]!r}"
                )
            seen[pname] = lv["name"]
            if p["centering"] == "group" and i == len(levels) - 1:
                raise PlanError(
                    f"levels[{i}].predictors.{pname}.centering: 'group' needs a higher level; "
                    "allowed values here: none, grand"
                )
            if p["centering"] != "none" and p["type"] != "continuous":
                raise PlanError(
                    f"levels[{i}].predictors.{pname}.centering: only continuous predictors "
                    f"can be centred (type is {p['type']!r}); allowed values here: none"
                )
            preds.append(
                Predictor(
                    name=pname,
                    level=lv["name"],
                    type=p["type"],
                    centering=p["centering"],
                    levels=_tuple_or_none(p["levels"]),
                    range=_tuple_or_none(p["range"]),
                )
            )
        out.append(Level(lv["name"], lv["id"], lv["ids_local_to_parent"], tuple(preds)))
    names = [lv.name for lv in out]
    if len(set(names)) != len(names):
        raise PlanError(f"levels: level names must be unique, got {names}")
    if outcome in seen:
        raise PlanError(f"outcome.name: {outcome!r} is also declared a predictor")
    return tuple(out)


@dataclass(frozen=True)
class CenteringNames(Section):
    """``centering``: name patterns of the centred column and of the cluster mean."""

    centered_name: str
    cluster_mean_name: str

    @classmethod
    def from_config(cls, d: dict) -> CenteringNames:
        return cls(d["centered_name"], d["cluster_mean_name"])

    def centered(self, name: str) -> str:
        """Column of the centred predictor ``name`` (``cses`` for ``ses``)."""
        return self.centered_name.format(name=name)

    def cluster_mean(self, name: str) -> str:
        """Column of the cluster mean of ``name`` (``meanses`` for ``ses``)."""
        return self.cluster_mean_name.format(name=name)

    def to_config(self) -> dict:
        return self.to_dict()


@dataclass(frozen=True)
class ChecksSection(_LaterKeys, Section):
    """``checks``: the action (ignore / warn / error) of each named data check."""

    LATER: ClassVar[dict[str, Any]] = {"missing_codes": "warn"}

    duplicate_rows: str
    constant_predictors: str
    ranges: str
    small_clusters: str
    min_cluster_size: int
    missing_codes: str = "warn"

    @classmethod
    def from_config(cls, d: dict) -> ChecksSection:
        return cls(**d)

    def to_config(self) -> dict:
        return self.to_dict()


@dataclass(frozen=True)
class DeltaSection(Section):
    """``missing.delta``: the MNAR shift grid and the model / term whose conclusion is tested."""

    grid: tuple[float, ...] = ()
    model: str | None = None
    term: str | None = None


@dataclass(frozen=True)
class MissingSection(Section):
    """``missing``: the method, the number of imputations ``m`` (resolved: 20 under multiple
    imputation unless planned, else 0), the chained-equations settings and the delta analysis.

    ``planned_m`` is the value written in the plan (``None``: the method's default); it does not
    enter the analysis, so it is not compared.
    """

    method: str
    m: int
    iterations: int
    donors: int
    ordered: tuple[str, ...]
    centering: str
    delta: DeltaSection
    planned_m: int | None = field(default=None, compare=False)

    @classmethod
    def from_config(cls, d: dict) -> MissingSection:
        """Fill the method-dependent default of ``m`` and check the missing-data plan."""
        mi = d["method"] == "multiple_imputation"
        m = d["m"] if d["m"] is not None else (20 if mi else 0)
        if not mi and m != 0:
            raise PlanError(
                f"missing.m: {m} imputations need missing.method: multiple_imputation "
                "(listwise analyses the observed data; use m: 0)"
            )
        if mi and m < 2:
            raise PlanError(f"missing.m: multiple imputation needs at least 2 imputations, got {m}")
        if d["delta"]["grid"] and not mi:
            raise PlanError(
                "missing.delta.grid: delta adjustment needs missing.method: multiple_imputation"
            )
        delta = DeltaSection(tuple(d["delta"]["grid"]), d["delta"]["model"], d["delta"]["term"])
        return cls(
            method=d["method"],
            m=m,
            iterations=d["iterations"],
            donors=d["donors"],
            ordered=tuple(d["ordered"]),
            centering=d["centering"],
            delta=delta,
            planned_m=d["m"],
        )

    @property
    def imputes(self) -> bool:
        return self.method == "multiple_imputation"

    def to_dict(self) -> dict:
        """The resolved section (``m`` filled), as the missing step's slice carries it."""
        out = super().to_dict()
        del out["planned_m"]
        return out

    def to_config(self) -> dict:
        return self.to_dict() | {"m": self.planned_m}


@dataclass(frozen=True)
class ModelEntry(Section):
    """One entry of ``models`` as planned: terms added to the previous model, or a formula."""

    name: str
    label: str | None
    add_fixed: tuple[str, ...]
    add_random: FrozenMap[str, tuple[str, ...]]
    formula: str | None
    # this model's own residual structure (plan/residual.py); None: the plan's estimation.residual
    residual: ResidualChoice | None = None

    @classmethod
    def from_config(cls, d: dict) -> ModelEntry:
        return cls(
            d["name"],
            d.get("label"),
            tuple(d["add_fixed"]),
            freeze(d["add_random"]),
            d["formula"],
            ResidualChoice.from_config(d.get("residual")),
        )

    def to_config(self) -> dict:
        out = self.to_dict()
        for key in ("label", "residual"):
            if out[key] is None:
                del out[key]
        return out


@dataclass(frozen=True)
class ModelSpec(Section):
    """One model of the staged sequence with its lme4-syntax formula.

    ``fixed``: the fixed terms; ``random``: level name -> random slopes (every level above the
    first has a random intercept); ``staged``: built from ``add_fixed`` / ``add_random`` (False:
    an explicit ``formula``).
    """

    name: str
    label: str
    formula: str
    fixed: tuple[str, ...]
    random: FrozenMap[str, tuple[str, ...]]
    staged: bool = True
    residual: ResidualChoice | None = None  # the model entry's own residual structure


@dataclass(frozen=True)
class GlmmOptions(Section):
    """``family``, ``link``, ``nagq`` of a non-gaussian plan, as ``mlmpipe.fit`` takes them."""

    family: str
    link: str | None
    nagq: int


@dataclass(frozen=True)
class EstimationSection(Section):
    """``estimation``: estimators, engine, response family, link, quadrature points, df method."""

    backend: str
    estimators: tuple[str, ...]
    family: str
    link: str | None
    nagq: int
    df_method: str
    # Bayesian modal estimation (engine/priors.py): ``method: bayes_modal`` fits the posterior mode
    # under ``prior`` (a name or the mapping ``mlmpipe.engine.priors.resolve_prior`` reads). None:
    # the key is absent (likelihood; blme's default prior), and stays out of the config, so the
    # hashes of plans written before these keys existed do not change
    method: str | None = None
    prior: Any = None
    # observation weights column and the R-side residual structure of every model (plan/residual.py);
    # absent keys stay out of the config as method / prior
    weights: str | None = None
    residual: ResidualChoice | None = None

    @classmethod
    def from_config(cls, d: dict) -> EstimationSection:
        return cls(
            backend=d["backend"],
            estimators=tuple(d["estimators"]),
            family=d["family"],
            link=d["link"],
            nagq=d["nagq"],
            df_method=d["df_method"],
            method=d.get("method"),
            prior=freeze(d["prior"]) if d.get("prior") is not None else None,
            weights=d.get("weights"),
            residual=ResidualChoice.from_config(d.get("residual")),
        )

    def to_config(self) -> dict:
        d = self.to_dict()
        for key in ("method", "prior", "weights", "residual"):
            if d[key] is None:
                del d[key]
        return d

    @property
    def fit_prior(self) -> Any:
        """The ``prior=`` argument of the fits: ``prior`` (default ``"blme"``) under
        ``method: bayes_modal``, else None."""
        if self.method != "bayes_modal":
            return None
        return "blme" if self.prior is None else self.prior

    @property
    def glmm(self) -> GlmmOptions | None:
        """The family options of a non-gaussian plan (None for a linear mixed model)."""
        if self.family == "gaussian":
            return None
        return GlmmOptions(self.family, self.link, self.nagq)

    @property
    def reporting_estimator(self) -> str:
        """The estimator whose fits are reported: REML when planned, else ML."""
        return reporting_estimator(self.estimators)

    def df_method_for(self, estimator: str) -> str | None:
        """``df_method`` of one fit: the planned method for a REML linear mixed model when it is
        not Satterthwaite, else None (ML fits keep Satterthwaite; GLMMs are tested by Wald z)."""
        if self.df_method == "satterthwaite" or estimator != "reml" or self.glmm is not None:
            return None
        return self.df_method


@dataclass(frozen=True)
class ConvergenceSection(_LaterKeys, Section):
    """``convergence``: the preregistered decision ladder (triggers, rungs, optimizer) and what an
    unresolved fit does (``on_unresolved``)."""

    triggers: tuple[str, ...]
    rungs: tuple[str, ...]
    optimizer: str
    on_unresolved: str = "warn"  # warn | error: a fit no rung could free of its problem
    prior: Any = None  # the prior of the bayes_modal rung (None: blme's default)
    LATER: ClassVar[dict[str, Any]] = {"on_unresolved": "warn", "prior": None}

    @classmethod
    def from_config(cls, d: dict) -> ConvergenceSection:
        return cls(
            tuple(d["triggers"]),
            tuple(d["rungs"]),
            d["optimizer"],
            d.get("on_unresolved", "warn"),
            freeze(d["prior"]) if d.get("prior") is not None else None,
        )

    def to_config(self) -> dict:
        return self.to_dict()


@dataclass(frozen=True)
class Hypothesis(Section):
    """One preregistered hypothesis: a parameter of a model and its expected direction."""

    name: str
    text: str
    model: str
    parameter: str
    direction: str


@dataclass(frozen=True)
class BootstrapSection(Section):
    """``report.bootstrap``: resamples, batches (separate jobs) and the model (``""``: final)."""

    resamples: int
    batches: int
    model: str


@dataclass(frozen=True)
class PredictionsSection(Section):
    """``report.predictions``: covariate values, focal predictor, moderator, clusters."""

    at: FrozenMap[str, tuple]
    focal: str
    moderator: str
    clusters: tuple


@dataclass(frozen=True)
class ReportSection(Section):
    """``report``: rendering engine, title, repeated-measures variable, figures, bootstrap,
    GLMM predictions."""

    engine: str
    title: str
    time_variable: str | None
    spaghetti_clusters: int
    bootstrap: BootstrapSection
    predictions: PredictionsSection

    @classmethod
    def from_config(cls, d: dict) -> ReportSection:
        p = d["predictions"]
        return cls(
            engine=d["engine"],
            title=d["title"],
            time_variable=d["time_variable"],
            spaghetti_clusters=d["spaghetti_clusters"],
            bootstrap=BootstrapSection(**d["bootstrap"]),
            predictions=PredictionsSection(
                freeze(p["at"]), p["focal"], p["moderator"], tuple(p["clusters"])
            ),
        )

    def to_config(self) -> dict:
        return self.to_dict()


@dataclass(frozen=True)
class PreregistrationSection(Section):
    """``preregistration``: title, authors, research questions, prior knowledge of the data."""

    title: str
    authors: tuple[str, ...]
    research_questions: tuple[str, ...]
    prior_knowledge: str

    @classmethod
    def from_config(cls, d: dict) -> PreregistrationSection:
        return cls(
            d["title"], tuple(d["authors"]), tuple(d["research_questions"]), d["prior_knowledge"]
        )

    def to_config(self) -> dict:
        return self.to_dict()


@dataclass(frozen=True)
class DimensionsSection(_LaterKeys, Section):
    """``sensitivity.dimensions``: the options of each multiverse dimension, in plan order;
    ``prior`` (None: not a dimension) varies the prior of Bayesian modal fits."""

    LATER: ClassVar[dict[str, Any]] = {"prior": None}

    centering: FrozenMap[str, tuple[str, ...]]
    random: tuple[str, ...]
    missing: tuple[str, ...]
    estimator: tuple[str, ...]
    df: tuple[str, ...]
    outliers: tuple[str, ...]
    method: tuple[str, ...]
    prior: tuple[str, ...] | None = None


@dataclass(frozen=True)
class SensitivityConfig(Section):
    """``sensitivity`` as planned (resolved into specifications by :mod:`mlmpipe.plan.multiverse`)."""

    enabled: bool
    model: str | None
    focal: tuple[str, ...]
    dimensions: DimensionsSection
    subset: tuple[FrozenMap[str, str], ...] | None
    influence_cutoff: float | None

    @classmethod
    def from_config(cls, d: dict) -> SensitivityConfig:
        dims = d["dimensions"]
        return cls(
            enabled=d["enabled"],
            model=d["model"],
            focal=tuple(d["focal"]),
            dimensions=DimensionsSection(
                centering=freeze(dims["centering"]),
                **{k: tuple(dims[k]) for k in DIMENSION_NAMES},
                prior=_tuple_or_none(dims.get("prior")),
            ),
            subset=freeze(d["subset"]),
            influence_cutoff=d["influence_cutoff"],
        )

    def to_config(self) -> dict:
        return self.to_dict()


DIMENSION_NAMES = ("random", "missing", "estimator", "df", "outliers", "method")


def with_fields(section: Section, changes: dict) -> Section:
    """``dataclasses.replace`` that descends into nested sections (``{"delta": {"grid": ...}}``)
    and freezes plain values (lists -> tuples, dicts -> frozen maps)."""
    out = {}
    names = [f.name for f in fields(section)]
    for key, value in changes.items():
        if key not in names:
            raise PlanError(
                f"with_choices: {type(section).__name__} has no field {key!r}; "
                f"allowed: {', '.join(names)}"
            )
        current = getattr(section, key)
        if isinstance(current, Section) and isinstance(value, dict):
            out[key] = with_fields(current, value)
        else:
            out[key] = freeze(value)
    return replace(section, **out)
