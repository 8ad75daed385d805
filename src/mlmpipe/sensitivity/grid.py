"""The multiverse: the plan's ``sensitivity:`` dimensions -> specifications with stable IDs.

A *specification* is one combination of analytic choices (Simonsohn, Simmons & Nelson 2020,
"Specification curve analysis", Nat. Hum. Behav. 4; Steegen et al. 2016, "Increasing transparency
through a multiverse analysis", Perspect. Psychol. Sci. 11). Its ID is a hash of its own choices
only, so adding an option to a dimension adds new IDs and leaves every existing one (and its cached
Snakemake artifact) untouched.

The choices that only concern the mixed model (``random``, ``estimator``, ``df``) do not apply to
the alternative estimators (``method`` other than ``mlm``); those specifications leave them out
(shown as "-"), so the grid holds no duplicates.

In a non-gaussian plan the definitions carry the plan's ``glmm`` options (family, link, nagq) and
choices without meaning for the family are recorded as not applicable when run
(:mod:`mlmpipe.sensitivity.families`); the primary specification is the first one that applies
(:func:`_applicable_first`). Gaussian definitions,
IDs and summary parameters are unchanged by this.

This module reads the keys of the plan's ``sensitivity`` section (it is the plan's sub-parser for
that section; :mod:`mlmpipe.plan` hands it the validated section).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mlmpipe.errors import PlanError

if TYPE_CHECKING:
    from mlmpipe.plan import Plan

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


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def spec_id(choices: dict[str, str]) -> str:
    """Stable ID of a specification: ``s`` + the first 10 hex digits of SHA-256 of its choices."""
    applied = {k: v for k, v in choices.items() if v != NOT_APPLICABLE}
    return "s" + hashlib.sha256(_canonical(applied).encode()).hexdigest()[:10]


@dataclass(frozen=True)
class Specification:
    id: str
    choices: dict = field(hash=False)  # dimension -> option ("-" where not applicable)

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.choices.items() if v != NOT_APPLICABLE)


@dataclass(frozen=True)
class SensitivityPlan:
    """The validated ``sensitivity:`` section with everything a specification needs resolved."""

    enabled: bool
    model: str
    focal: tuple[str, ...]
    dimensions: dict = field(hash=False)  # dimension -> tuple of options, in plan order
    specifications: tuple[Specification, ...]
    base: dict = field(hash=False)  # outcome, cluster, fixed, slopes, centering, columns
    influence_cutoff: float | None
    alpha: float
    missing: dict = field(default_factory=dict, hash=False)  # imputation/delta specs only

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.specifications)

    def spec(self, sid: str) -> Specification:
        for s in self.specifications:
            if s.id == sid:
                return s
        raise PlanError(f"sensitivity: no specification {sid!r}; there are {len(self.ids)}")

    def definition(self, sid: str) -> dict:
        """Everything one specification job needs (its Snakemake params): nothing of the others."""
        s = self.spec(sid)
        out = {
            "id": s.id,
            "choices": s.choices,
            "focal": list(self.focal),
            "alpha": self.alpha,
            **self.base,
        }
        if s.choices.get("missing") in ("imputation", "delta"):  # listwise params stay unchanged
            out["missing"] = self.missing
        return out

    def influence_definition(self) -> dict:
        """The base model on which cluster influence is computed once."""
        return {"cutoff": self.influence_cutoff, **self.base}

    def summary_definition(self) -> dict:
        from mlmpipe.sensitivity.families import scale_label

        out = {
            "focal": list(self.focal),
            "alpha": self.alpha,
            "dimensions": {k: list(v) for k, v in self.dimensions.items()},
            "primary": self.primary.id,
        }
        scale = scale_label(self.base.get("glmm"))
        return out | ({"scale": scale} if scale else {})  # non-gaussian plans only

    @property
    def primary(self) -> Specification:
        """The plan's own analysis: the first option of every dimension."""
        return self.specifications[0]


def _dimensions(section: dict, plan: Plan) -> dict[str, tuple[str, ...]]:
    dims: dict[str, tuple[str, ...]] = {}
    level1 = plan.levels[0]
    continuous = [p.name for p in level1.predictors if p.type == "continuous"]
    for var, options in section["dimensions"].get("centering", {}).items():
        if var not in continuous:
            raise PlanError(
                f"sensitivity.dimensions.centering.{var}: not a continuous level-1 predictor; "
                f"allowed: {', '.join(continuous) or '(none declared)'}"
            )
        dims[f"centering.{var}"] = tuple(options)
    for name in ORDER:
        dims[name] = tuple(section["dimensions"][name])
    return dims


def _choices_ok(choices: dict[str, str]) -> dict[str, str]:
    if choices["method"] != "mlm":
        choices = {k: (NOT_APPLICABLE if k in MLM_ONLY else v) for k, v in choices.items()}
    return choices


def _grid(dims: dict[str, tuple[str, ...]]) -> list[dict[str, str]]:
    keys = list(dims)
    out = []
    for combo in itertools.product(*(dims[k] for k in keys)):
        out.append(_choices_ok(dict(zip(keys, combo, strict=True))))
    return out


def _subset(entries: list[dict], dims: dict[str, tuple[str, ...]]) -> list[dict[str, str]]:
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


def _base(plan: Plan, model_name: str) -> dict:
    """Resolve the base model and the columns the centering dimension rewrites."""
    if len(plan.levels) != 2:
        raise PlanError(
            f"sensitivity: the multiverse supports two-level plans; this plan has {len(plan.levels)} levels"
        )
    cluster = plan.levels[1]
    m = plan.model(model_name)
    entry = next(e for e in plan.config["models"] if e["name"] == model_name)
    if entry.get("formula"):
        raise PlanError(
            f"sensitivity.model: {model_name!r} is an explicit formula; the multiverse varies a "
            "staged model (add_fixed/add_random)"
        )
    columns = {}
    for p in plan.levels[0].predictors:
        if p.type == "continuous":
            columns[p.name] = {
                "column": plan.centered_name(p) if p.centering != "none" else p.name,
                "cluster_mean": plan.cluster_mean_name(p),
            }
    return {
        "model": m.name,
        "outcome": plan.outcome,
        "cluster": cluster.id,
        "fixed": list(m.fixed),
        "slopes": list(m.random.get(cluster.name, [])),
        "center": json.loads(plan.slice_center()),
        "columns": columns,
        "convergence": plan.config["convergence"],  # the registered ladder (mlmpipe.ladder)
        # non-gaussian plans only (gaussian definitions, hence their job params, are unchanged)
        **({"glmm": plan.glmm_options()} if plan.glmm_options() else {}),
    }


def _missing(dims: dict, plan: Plan) -> dict:
    """The plan's imputation settings, when a ``missing`` option imputes (else empty)."""
    if not {"imputation", "delta"} & set(dims["missing"]):
        return {}
    from mlmpipe.missing.multiverse import missing_definition

    return missing_definition(plan)


def _applicable_first(specs: list[Specification], plan: Plan) -> list[Specification]:
    """The primary specification is the first whose choices mean something for the plan's family:
    for a gaussian plan (and whenever the first options apply) the first option of every dimension;
    for a GLMM plan whose first options include REML or Kenward-Roger, the first specification of
    the grid without them (e.g. ``estimator: ml``). IDs do not change; if nothing applies the
    order is kept (every specification is then recorded as not applicable)."""
    from mlmpipe.sensitivity.families import not_applicable

    glmm = plan.glmm_options()
    first = next((i for i, s in enumerate(specs) if not_applicable(s.choices, glmm) is None), 0)
    return [specs[first], *specs[:first], *specs[first + 1 :]]


def build_sensitivity(section: dict, plan: Plan) -> SensitivityPlan:
    """Turn the (schema-validated, defaults filled) ``sensitivity`` section into specifications."""
    model = section.get("model") or plan.models[-1].name
    if model not in plan.model_names:
        raise PlanError(
            f"sensitivity.model: no model named {model!r}; allowed: {', '.join(plan.model_names)}"
        )
    dims = _dimensions(section, plan)
    enabled = bool(section["enabled"])
    if not enabled:
        return SensitivityPlan(False, model, (), dims, (), {}, None, plan.alpha)
    if not section["focal"]:
        raise PlanError(
            "sensitivity.focal: name at least one focal parameter, e.g. 'cses:sectorCatholic'"
        )
    raw = _grid(dims) if section["subset"] is None else _subset(section["subset"], dims)
    specs, seen = [], set()
    for choices in raw:
        sid = spec_id(choices)
        if sid not in seen:
            seen.add(sid)
            specs.append(Specification(sid, choices))
    specs = _applicable_first(specs, plan)
    return SensitivityPlan(
        enabled=enabled,
        model=model,
        focal=tuple(section["focal"]),
        dimensions=dims,
        specifications=tuple(specs),
        base=_base(plan, model),
        influence_cutoff=section["influence_cutoff"],
        alpha=plan.alpha,
        missing=_missing(dims, plan),
    )


# --------------------------------------------------------------------------- artifact paths

SPEC_DIR = "reports/sensitivity/specs"
INFLUENCE = "reports/sensitivity/influence.json"
SUMMARY = "reports/sensitivity/summary.json"
TABLE = "reports/tables/sensitivity.csv"
FIGURE = "reports/figures/specification_curve.png"


def spec_path(sid: str) -> str:
    return f"{SPEC_DIR}/{sid}.json"


def sensitivity_targets(plan: Plan) -> list[str]:
    """Final artifacts of the multiverse (empty when the plan does not enable it)."""
    sens = plan.sensitivity
    if sens is None or not sens.enabled:
        return []
    return [SUMMARY, TABLE, FIGURE]


def spec_code(plan: Plan, sid: str) -> list[str]:
    """Library files an imputation or delta specification also depends on (the missing package),
    so an imputation code change reruns those specifications and no others."""
    from mlmpipe.plan import library_files

    imputes = plan.sensitivity.spec(sid).choices.get("missing") in ("imputation", "delta")
    return library_files("missing") if imputes else []


def spec_inputs(plan: Plan, sid: str) -> list[str]:
    """The influence artifact, only for specifications that drop influential clusters."""
    from mlmpipe.sensitivity.families import not_applicable

    choices = plan.sensitivity.spec(sid).choices
    if not_applicable(choices, plan.glmm_options()) is not None:
        return []  # recorded as not applicable without reading anything
    return [INFLUENCE] if choices.get("outliers") == "drop_influential" else []
