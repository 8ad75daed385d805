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
from mlmpipe.plan.frozen import FrozenMap
from mlmpipe.plan.sections import GlmmOptions, Level, ModelSpec, SensitivityConfig
from mlmpipe.plan.slices import CenterSlice, FitSlice, MissingSlice, Slice, ValidateSlice

#: Allowed options per dimension (the schema enums say the same; kept here for the subset check).
OPTIONS: dict[str, tuple[str, ...]] = {
    "centering": ("group", "grand", "none"),
    "random": ("slopes", "intercept", "uncorrelated"),
    "missing": ("listwise", "imputation", "delta"),
    "estimator": ("reml", "ml", "bayes_modal"),
    "prior": ("default", "wider"),
    "df": ("satterthwaite", "kenward_roger"),
    "outliers": ("all", "drop_influential"),
    "method": ("mlm", "ols_cluster", "gee", "between", "within", "random_effects"),
}
#: Dimensions that only the mixed model (method ``mlm``) has.
MLM_ONLY = ("random", "estimator", "df")
#: Order of the dimensions in IDs, tables and the choice matrix (centering.<var> come first).
#: ``prior`` is a dimension only when the plan lists it (older plans keep their IDs).
ORDER = ("method", "random", "estimator", "prior", "df", "missing", "outliers")
NOT_APPLICABLE = "-"
#: Imputations per imputation / delta specification when the plan itself does not impute: enough
#: for Rubin's rules on a focal fixed effect at a moderate fraction of missing information
#: (relative efficiency 1 / (1 + FMI/m) >= 0.94 for FMI <= 0.3) while keeping a multiverse of many
#: specifications affordable.
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
class SpecSlice(Slice):
    """``sensitivity_spec``: one specification as the main steps' slices of its variant plan
    (:meth:`mlmpipe.plan.Plan.with_choices`), and nothing of the other specifications.

    ``validate``, ``missing``, ``center`` and ``fit`` are the variant's slices of the missing-data,
    centering and fit steps (``fit``: the multiverse's model under the variant's reporting
    estimator); ``alternative`` is the formula of the alternative estimators (the fixed part and a
    random intercept of ``cluster``, the highest level); ``outliers`` drops the clusters of
    ``cluster`` flagged by the influence analysis. A specification whose choices have no meaning
    for the family carries ``not_applicable``; one that cannot be built (a choice the plan cannot
    honour) carries ``unavailable``; neither carries step slices.
    """

    id: str
    choices: FrozenMap[str, str]
    focal: tuple[str, ...]
    alpha: float
    cluster: str
    validate: ValidateSlice | None = None
    missing: MissingSlice | None = None
    center: CenterSlice | None = None
    fit: FitSlice | None = None
    alternative: str | None = None
    not_applicable: str | None = None
    unavailable: str | None = None

    def to_dict(self) -> dict:
        out: dict[str, Any] = {
            "id": self.id,
            "choices": dict(self.choices),
            "focal": list(self.focal),
            "alpha": self.alpha,
            "cluster": self.cluster,
        }
        for name in ("validate", "missing", "center", "fit"):
            part = getattr(self, name)
            if part is not None:
                out[name] = part.to_dict()
        for name in ("alternative", "not_applicable", "unavailable"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out

    @classmethod
    def from_dict(cls, d: Mapping) -> SpecSlice:
        def part(name: str, kind: type[Slice]) -> Any:
            return kind.from_dict(d[name]) if name in d else None

        return cls(
            d["id"],
            FrozenMap.of(d["choices"]),
            tuple(d["focal"]),
            d["alpha"],
            d["cluster"],
            part("validate", ValidateSlice),
            part("missing", MissingSlice),
            part("center", CenterSlice),
            part("fit", FitSlice),
            d.get("alternative"),
            d.get("not_applicable"),
            d.get("unavailable"),
        )

    @property
    def method(self) -> str:
        return self.choices.get("method", "mlm")

    @property
    def drops_influential(self) -> bool:
        return self.choices.get("outliers") == "drop_influential"


@dataclass(frozen=True)
class InfluenceSlice(Slice):
    """``sensitivity_influence``: the multiverse's model as planned (complete cases, the plan's
    centering) and the clusters of ``cluster`` (the highest level) whose influence is computed
    once; ``cutoff``: the plan's Cook's distance cutoff (None: 4 / number of clusters)."""

    cutoff: float | None
    cluster: str
    validate: ValidateSlice
    missing: MissingSlice
    center: CenterSlice
    fit: FitSlice

    def to_dict(self) -> dict:
        return {
            "cutoff": self.cutoff,
            "cluster": self.cluster,
            "validate": self.validate.to_dict(),
            "missing": self.missing.to_dict(),
            "center": self.center.to_dict(),
            "fit": self.fit.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> InfluenceSlice:
        return cls(
            d["cutoff"],
            d["cluster"],
            ValidateSlice.from_dict(d["validate"]),
            MissingSlice.from_dict(d["missing"]),
            CenterSlice.from_dict(d["center"]),
            FitSlice.from_dict(d["fit"]),
        )


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
    first, then :data:`ORDER`), its specifications (primary first) and the model they vary.
    ``planned`` is the section as written (for :meth:`mlmpipe.plan.Plan.to_config`). The job
    parameters of a specification are the slices of its variant plan
    (:func:`mlmpipe.plan.variants.spec_slice`)."""

    planned: SensitivityConfig
    enabled: bool
    model: str
    focal: tuple[str, ...]
    dimensions: FrozenMap[str, tuple[str, ...]]
    specifications: tuple[Specification, ...]
    influence_cutoff: float | None
    alpha: float
    glmm: GlmmOptions | None = None

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

    def summary_slice(self) -> SummarySlice:
        glmm = self.glmm.to_dict() if self.glmm is not None else None
        return SummarySlice(
            self.focal, self.alpha, self.dimensions, self.primary.id, scale_label(glmm)
        )

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
        options = getattr(cfg.dimensions, name)
        if options is not None:
            dims[name] = options
    return FrozenMap.of(dims)


def _choices_ok(choices: dict[str, str], bayes_modal: bool = False) -> dict[str, str]:
    """Choices without meaning are "-": the mixed-model dimensions of an alternative estimator,
    and the prior of a likelihood fit (``bayes_modal``: the plan's own fits are Bayesian modal)."""
    if choices["method"] != "mlm":
        choices = {k: (NOT_APPLICABLE if k in MLM_ONLY else v) for k, v in choices.items()}
    modal = bayes_modal or choices.get("estimator") == "bayes_modal"
    if "prior" in choices and (choices["method"] != "mlm" or not modal):
        choices["prior"] = NOT_APPLICABLE
    return choices


def _grid(dims: Mapping[str, tuple[str, ...]], bayes_modal: bool = False) -> list[dict[str, str]]:
    keys = list(dims)
    return [
        _choices_ok(dict(zip(keys, combo, strict=True)), bayes_modal)
        for combo in itertools.product(*(dims[k] for k in keys))
    ]


def _subset(
    entries: tuple[Mapping[str, str], ...],
    dims: Mapping[str, tuple[str, ...]],
    bayes_modal: bool = False,
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
        out.append(_choices_ok(choices, bayes_modal))
    primary = _choices_ok({k: v[0] for k, v in dims.items()}, bayes_modal)
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
    alpha: float
    glmm: GlmmOptions | None
    #: the plan's fits are Bayesian modal (``estimation.method: bayes_modal``)
    bayes_modal: bool = False


def build_sensitivity(cfg: SensitivityConfig, ctx: MultiverseContext) -> SensitivitySection:
    """Turn the (schema-validated, defaults filled) ``sensitivity`` section into specifications."""
    names = [m.name for m in ctx.models]
    model = cfg.model or names[-1]
    if model not in names:
        raise PlanError(f"sensitivity.model: no model named {model!r}; allowed: {', '.join(names)}")
    if not next(m for m in ctx.models if m.name == model).staged:
        raise PlanError(
            f"sensitivity.model: {model!r} is an explicit formula; the multiverse varies a "
            "staged model (add_fixed/add_random)"
        )
    dims = _dimensions(cfg, ctx.levels[0])
    if not cfg.enabled:
        return SensitivitySection(cfg, False, model, (), dims, (), None, ctx.alpha, ctx.glmm)
    if not cfg.focal:
        raise PlanError(
            "sensitivity.focal: name at least one focal parameter, e.g. 'cses:sectorCatholic'"
        )
    bm = ctx.bayes_modal
    raw = _grid(dims, bm) if cfg.subset is None else _subset(cfg.subset, dims, bm)
    specs, seen = [], set()
    for choices in raw:
        sid = spec_id(choices)
        if sid not in seen:
            seen.add(sid)
            specs.append(Specification(sid, FrozenMap.of(choices)))
    return SensitivitySection(
        planned=cfg,
        enabled=True,
        model=model,
        focal=cfg.focal,
        dimensions=dims,
        specifications=tuple(_applicable_first(specs, ctx.glmm)),
        influence_cutoff=cfg.influence_cutoff,
        alpha=ctx.alpha,
        glmm=ctx.glmm,
    )
