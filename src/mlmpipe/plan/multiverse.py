"""The plan's ``sensitivity:`` section resolved into a multiverse of specifications with stable IDs.

A *specification* is one combination of analytic choices (Simonsohn, Simmons & Nelson 2020,
"Specification curve analysis", Nat. Hum. Behav. 4; Steegen et al. 2016, "Increasing transparency
through a multiverse analysis", Perspect. Psychol. Sci. 11). Its ID is a hash of its own choices
only, so adding an option to a dimension adds new IDs and leaves every existing one (and its cached
Snakemake artifact) untouched.

The choices that only concern the mixed model (``random``, ``estimator``, ``df``) do not apply to
the alternative estimators (``method`` other than ``mlm``); those specifications leave them out
(shown as "-"), so the grid holds no duplicates. In a non-gaussian plan the definitions carry the
plan's GLMM options and the primary specification is the first one whose choices have a meaning for
the family (:mod:`mlmpipe.plan.applicability`); IDs do not depend on it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlmpipe.errors import PlanError
from mlmpipe.plan.applicability import not_applicable, scale_label
from mlmpipe.plan.frozen import FrozenMap, plain
from mlmpipe.plan.sections import (
    ConvergenceSection,
    GlmmOptions,
    Level,
    ModelSpec,
    SensitivityConfig,
)
from mlmpipe.plan.slices import CenterSlice, Slice

#: Allowed options per dimension (the schema enums say the same; kept here for the subset check).
OPTIONS: dict[str, tuple[str, ...]] = {
    "centering": ("group", "grand", "none"),
    "random": ("slopes", "intercept", "uncorrelated"),
    "missing": ("listwise", "imputation", "delta"),
    "estimator": ("reml", "ml"),
    "df": ("satterthwaite", "kenward_roger"),
    "outliers": ("all", "drop_influential"),
    "method": ("mlm", "ols_cluster", "gee", "between", "within", "random_effects"),
}
#: Dimensions that only the mixed model (method ``mlm``) has.
MLM_ONLY = ("random", "estimator", "df")
#: Order of the dimensions in IDs, tables and the choice matrix (centering.<var> come first).
ORDER = ("method", "random", "estimator", "df", "missing", "outliers")
NOT_APPLICABLE = "-"
#: Imputations per imputation / delta specification when the plan itself does not impute (enough
#: for Rubin's rules on a focal fixed effect at moderate missing information; see
#: :mod:`mlmpipe.missing.multiverse`).
MULTIVERSE_M = 5


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def spec_id(choices: Mapping[str, str]) -> str:
    """Stable ID of a specification: ``s`` + the first 10 hex digits of SHA-256 of its choices."""
    applied = {k: v for k, v in choices.items() if v != NOT_APPLICABLE}
    return "s" + hashlib.sha256(_canonical(applied).encode()).hexdigest()[:10]


@dataclass(frozen=True)
class Specification:
    """One specification: its ID and its choices (dimension -> option, "-" if not applicable)."""

    id: str
    choices: FrozenMap[str, str]

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.choices.items() if v != NOT_APPLICABLE)


@dataclass(frozen=True)
class ColumnNames:
    """The column a base model uses for a level-1 predictor and that predictor's cluster mean."""

    column: str
    cluster_mean: str


@dataclass(frozen=True)
class SensitivityBase(Slice):
    """The base model of the multiverse and the columns its centering dimension rewrites."""

    model: str
    outcome: str
    cluster: str
    fixed: tuple[str, ...]
    slopes: tuple[str, ...]
    center: CenterSlice
    columns: FrozenMap[str, ColumnNames]
    convergence: ConvergenceSection
    glmm: GlmmOptions | None = None

    def to_dict(self) -> dict:
        out = {
            "model": self.model,
            "outcome": self.outcome,
            "cluster": self.cluster,
            "fixed": list(self.fixed),
            "slopes": list(self.slopes),
            "center": self.center.to_dict(),
            "columns": {
                k: {"column": c.column, "cluster_mean": c.cluster_mean}
                for k, c in self.columns.items()
            },
            "convergence": self.convergence.to_dict(),
        }
        return out | ({"glmm": self.glmm.to_dict()} if self.glmm is not None else {})

    @classmethod
    def from_dict(cls, d: Mapping) -> SensitivityBase:
        g = d.get("glmm")
        return cls(
            d["model"],
            d["outcome"],
            d["cluster"],
            tuple(d["fixed"]),
            tuple(d["slopes"]),
            CenterSlice.from_dict(d["center"]),
            FrozenMap.of({k: ColumnNames(**c) for k, c in d["columns"].items()}),
            ConvergenceSection.from_config(d["convergence"]),
            GlmmOptions(**g) if g else None,
        )


_BASE_KEYS = ("model", "outcome", "cluster", "fixed", "slopes", "center", "columns")


@dataclass(frozen=True)
class ImputationDefinition(Slice):
    """What an imputation or delta specification needs of the plan: imputations (the plan's
    ``missing.m``, else :data:`MULTIVERSE_M`), iterations, donors, seed, the variables by level and
    their types, the models' interaction pairs, the largest |delta| of the plan's grid."""

    m: int
    iterations: int
    donors: int
    seed: int
    levels: tuple[tuple[str, str | None, tuple[str, ...]], ...]
    types: FrozenMap[str, tuple[str, tuple | None]]
    interactions: tuple[tuple[str, str], ...]
    delta: float | None
    glmm: GlmmOptions | None = None

    def to_dict(self) -> dict:
        out = {
            "m": self.m,
            "iterations": self.iterations,
            "donors": self.donors,
            "seed": self.seed,
            "levels": [[n, i, list(p)] for n, i, p in self.levels],
            "types": {k: [t, plain(lv)] for k, (t, lv) in self.types.items()},
            "interactions": plain(self.interactions),
            "delta": self.delta,
        }
        return out | ({"glmm": self.glmm.to_dict()} if self.glmm is not None else {})

    @classmethod
    def from_dict(cls, d: Mapping) -> ImputationDefinition:
        g = d.get("glmm")
        return cls(
            d["m"], d["iterations"], d["donors"], d["seed"],
            tuple((n, i, tuple(p)) for n, i, p in d["levels"]),
            FrozenMap.of(
                {k: (t, tuple(lv) if lv is not None else None) for k, (t, lv) in d["types"].items()}
            ),
            tuple(tuple(p) for p in d["interactions"]),
            d["delta"],
            GlmmOptions(**g) if g else None,
        )  # fmt: skip


@dataclass(frozen=True)
class SpecSlice(Slice):
    """``sensitivity_spec``: everything one specification job needs, nothing of the others."""

    id: str
    choices: FrozenMap[str, str]
    focal: tuple[str, ...]
    alpha: float
    base: SensitivityBase
    missing: ImputationDefinition | None = None

    def to_dict(self) -> dict:
        out = {
            "id": self.id,
            "choices": dict(self.choices),
            "focal": list(self.focal),
            "alpha": self.alpha,
            **self.base.to_dict(),
        }
        return out | ({"missing": self.missing.to_dict()} if self.missing is not None else {})

    @classmethod
    def from_dict(cls, d: Mapping) -> SpecSlice:
        return cls(
            d["id"],
            FrozenMap.of(d["choices"]),
            tuple(d["focal"]),
            d["alpha"],
            SensitivityBase.from_dict(d),
            ImputationDefinition.from_dict(d["missing"]) if d.get("missing") else None,
        )


@dataclass(frozen=True)
class InfluenceSlice(Slice):
    """``sensitivity_influence``: the base model on which cluster influence is computed once."""

    cutoff: float | None
    base: SensitivityBase

    def to_dict(self) -> dict:
        return {"cutoff": self.cutoff, **self.base.to_dict()}

    @classmethod
    def from_dict(cls, d: Mapping) -> InfluenceSlice:
        return cls(d["cutoff"], SensitivityBase.from_dict(d))


@dataclass(frozen=True)
class SummarySlice(Slice):
    """``sensitivity_summary``: focal parameters, alpha, dimensions, the primary specification and
    (non-gaussian plans) the scale of the estimates."""

    focal: tuple[str, ...]
    alpha: float
    dimensions: FrozenMap[str, tuple[str, ...]]
    primary: str
    scale: str | None = None

    def to_dict(self) -> dict:
        out = {
            "focal": list(self.focal),
            "alpha": self.alpha,
            "dimensions": {k: list(v) for k, v in self.dimensions.items()},
            "primary": self.primary,
        }
        return out | ({"scale": self.scale} if self.scale else {})

    @classmethod
    def from_dict(cls, d: Mapping) -> SummarySlice:
        dims = FrozenMap.of({k: tuple(v) for k, v in d["dimensions"].items()})
        return cls(tuple(d["focal"]), d["alpha"], dims, d["primary"], d.get("scale"))


@dataclass(frozen=True)
class SensitivitySection:
    """The ``sensitivity:`` section resolved: the multiverse's dimensions (``centering.<var>``
    first, then :data:`ORDER`), its specifications (primary first), the base model and the
    imputation settings of imputation / delta specifications. ``planned`` is the section as written
    (for :meth:`mlmpipe.plan.Plan.to_config`)."""

    planned: SensitivityConfig
    enabled: bool
    model: str
    focal: tuple[str, ...]
    dimensions: FrozenMap[str, tuple[str, ...]]
    specifications: tuple[Specification, ...]
    base: SensitivityBase | None
    influence_cutoff: float | None
    alpha: float
    missing: ImputationDefinition | None = None

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.specifications)

    def spec(self, sid: str) -> Specification:
        for s in self.specifications:
            if s.id == sid:
                return s
        raise PlanError(f"sensitivity: no specification {sid!r}; there are {len(self.ids)}")

    @property
    def primary(self) -> Specification:
        """The plan's own analysis: the first specification that applies to its family."""
        return self.specifications[0]

    def spec_slice(self, sid: str) -> SpecSlice:
        s = self.spec(sid)
        imputes = s.choices.get("missing") in ("imputation", "delta")
        return SpecSlice(
            s.id, s.choices, self.focal, self.alpha, self.base, self.missing if imputes else None
        )

    def influence_slice(self) -> InfluenceSlice:
        return InfluenceSlice(self.influence_cutoff, self.base)

    def summary_slice(self) -> SummarySlice:
        glmm = self.base.glmm.to_dict() if self.base and self.base.glmm else None
        return SummarySlice(
            self.focal, self.alpha, self.dimensions, self.primary.id, scale_label(glmm)
        )

    def definition(self, sid: str) -> dict:
        """The job parameters of one specification (decoded :meth:`spec_slice`)."""
        return self.spec_slice(sid).to_dict()

    def influence_definition(self) -> dict:
        return self.influence_slice().to_dict()

    def summary_definition(self) -> dict:
        return self.summary_slice().to_dict()


# --------------------------------------------------------------------------- building


def _dimensions(cfg: SensitivityConfig, level1: Level) -> FrozenMap[str, tuple[str, ...]]:
    dims: dict[str, tuple[str, ...]] = {}
    continuous = [p.name for p in level1.predictors if p.type == "continuous"]
    for var, options in cfg.dimensions.centering.items():
        if var not in continuous:
            raise PlanError(
                f"sensitivity.dimensions.centering.{var}: not a continuous level-1 predictor; "
                f"allowed: {', '.join(continuous) or '(none declared)'}"
            )
        dims[f"centering.{var}"] = tuple(options)
    for name in ORDER:
        dims[name] = getattr(cfg.dimensions, name)
    return FrozenMap.of(dims)


def _choices_ok(choices: dict[str, str]) -> dict[str, str]:
    if choices["method"] != "mlm":
        choices = {k: (NOT_APPLICABLE if k in MLM_ONLY else v) for k, v in choices.items()}
    return choices


def _grid(dims: Mapping[str, tuple[str, ...]]) -> list[dict[str, str]]:
    keys = list(dims)
    return [
        _choices_ok(dict(zip(keys, combo, strict=True)))
        for combo in itertools.product(*(dims[k] for k in keys))
    ]


def _subset(
    entries: tuple[Mapping[str, str], ...], dims: Mapping[str, tuple[str, ...]]
) -> list[dict[str, str]]:
    out = []
    for i, entry in enumerate(entries):
        choices = {k: v[0] for k, v in dims.items()}
        for key, value in entry.items():
            where = f"sensitivity.subset[{i}].{key}"
            if key not in dims:
                raise PlanError(f"{where}: unknown dimension; allowed: {', '.join(dims)}")
            if value not in dims[key]:
                raise PlanError(
                    f"{where}: {value!r} is not allowed; allowed values: {', '.join(dims[key])}"
                )
            choices[key] = value
        out.append(_choices_ok(choices))
    primary = _choices_ok({k: v[0] for k, v in dims.items()})
    return [primary] + [c for c in out if c != primary]


def _applicable_first(specs: list[Specification], glmm: GlmmOptions | None) -> list[Specification]:
    """The primary specification is the first whose choices mean something for the plan's family
    (for a gaussian plan, and whenever the first options apply, the first option of every
    dimension); IDs do not change; if nothing applies the order is kept."""
    g = glmm.to_dict() if glmm is not None else None
    first = next((i for i, s in enumerate(specs) if not_applicable(s.choices, g) is None), 0)
    return [specs[first], *specs[:first], *specs[first + 1 :]]


@dataclass(frozen=True)
class MultiverseContext:
    """What resolving the ``sensitivity`` section needs of the rest of the plan."""

    levels: tuple[Level, ...]
    models: tuple[ModelSpec, ...]
    outcome: str
    alpha: float
    center: CenterSlice
    columns: FrozenMap[str, ColumnNames]
    convergence: ConvergenceSection
    glmm: GlmmOptions | None
    imputation: ImputationDefinition

    def model(self, name: str) -> ModelSpec:
        return next(m for m in self.models if m.name == name)


def _base(ctx: MultiverseContext, model_name: str) -> SensitivityBase:
    """Resolve the base model and the columns the centering dimension rewrites."""
    if len(ctx.levels) != 2:
        raise PlanError(
            "sensitivity: the multiverse supports two-level plans; this plan has "
            f"{len(ctx.levels)} levels"
        )
    cluster = ctx.levels[1]
    m = ctx.model(model_name)
    if not m.staged:
        raise PlanError(
            f"sensitivity.model: {model_name!r} is an explicit formula; the multiverse varies a "
            "staged model (add_fixed/add_random)"
        )
    return SensitivityBase(
        model=m.name,
        outcome=ctx.outcome,
        cluster=cluster.id,
        fixed=m.fixed,
        slopes=tuple(m.random.get(cluster.name, ())),
        center=ctx.center,
        columns=ctx.columns,
        convergence=ctx.convergence,
        glmm=ctx.glmm,
    )


def build_sensitivity(cfg: SensitivityConfig, ctx: MultiverseContext) -> SensitivitySection:
    """Turn the (schema-validated, defaults filled) ``sensitivity`` section into specifications."""
    names = [m.name for m in ctx.models]
    model = cfg.model or names[-1]
    if model not in names:
        raise PlanError(f"sensitivity.model: no model named {model!r}; allowed: {', '.join(names)}")
    dims = _dimensions(cfg, ctx.levels[0])
    if not cfg.enabled:
        return SensitivitySection(cfg, False, model, (), dims, (), None, None, ctx.alpha)
    if not cfg.focal:
        raise PlanError(
            "sensitivity.focal: name at least one focal parameter, e.g. 'cses:sectorCatholic'"
        )
    raw = _grid(dims) if cfg.subset is None else _subset(cfg.subset, dims)
    specs, seen = [], set()
    for choices in raw:
        sid = spec_id(choices)
        if sid not in seen:
            seen.add(sid)
            specs.append(Specification(sid, FrozenMap.of(choices)))
    imputes = bool({"imputation", "delta"} & set(dims["missing"]))
    return SensitivitySection(
        planned=cfg,
        enabled=True,
        model=model,
        focal=cfg.focal,
        dimensions=dims,
        specifications=tuple(_applicable_first(specs, ctx.glmm)),
        base=_base(ctx, model),
        influence_cutoff=cfg.influence_cutoff,
        alpha=ctx.alpha,
        missing=ctx.imputation if imputes else None,
    )
