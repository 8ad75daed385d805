"""The analysis plan: schema validation, defaults, and frozen dataclasses.

This is the only module that knows the keys of ``config/analysis.yaml``. Everything downstream
(Snakemake rules, library functions, the CLI) works with :class:`Plan` or with the JSON-able
slices that :class:`Plan` hands out, so editing one part of the plan reruns only what depends on it.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from mlmpipe.errors import PlanError

PREDICTOR_TYPES = ("continuous", "binary", "categorical")
CENTERINGS = ("none", "grand", "group")
ESTIMATORS = ("reml", "ml")


# --------------------------------------------------------------------------- schema + defaults


def schema_path() -> Path:
    """Path of the JSON schema shipped with the package (identical to config/schema/)."""
    return Path(str(resources.files("mlmpipe") / "templates" / "analysis.schema.yaml"))


def load_schema(path: str | Path | None = None) -> dict:
    with open(path or schema_path(), encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _key_path(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<plan>"


def _format_error(err) -> str:
    """One line naming the plan key, the problem and (for enums) the allowed values."""
    where = _key_path(err.absolute_path)
    v = err.validator
    if v == "enum":
        allowed = ", ".join(map(str, err.validator_value))
        return f"{where}: {err.instance!r} is not allowed; allowed values: {allowed}"
    if v == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        return f"{where}: missing required key {missing!r}"
    if v == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        extra = sorted(set(err.instance) - set(allowed))
        hint = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
        return f"{where}: unknown key(s) {', '.join(map(repr, extra))}{hint}"
    if v == "type":
        want = err.validator_value
        want = " or ".join(want) if isinstance(want, list) else want
        return f"{where}: expected {want}, got {err.instance!r}"
    if v == "pattern":
        return (
            f"{where}: {err.instance!r} does not match the required pattern {err.validator_value}"
        )
    return f"{where}: {err.message}"


def _fill_defaults(instance: Any, schema: dict) -> None:
    """Fill ``default`` values recursively (also inside defaults that were just inserted)."""
    if isinstance(instance, dict):
        props = schema.get("properties", {})
        for key, sub in props.items():
            if key not in instance and "default" in sub:
                instance[key] = copy.deepcopy(sub["default"])
            if key in instance:
                _fill_defaults(instance[key], sub)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key in instance:
                if key not in props:
                    _fill_defaults(instance[key], extra)
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for item in instance:
            _fill_defaults(item, schema["items"])


def validate_config(config: dict, schema: dict | str | Path | None = None) -> dict:
    """Validate a plan dict against the schema; return a deep copy with defaults filled in.

    Raises :class:`PlanError` with a one-line message for the most relevant violation.
    """
    import jsonschema

    if not isinstance(config, dict):
        raise PlanError(f"<plan>: expected a mapping of plan keys, got {type(config).__name__}")
    if not isinstance(schema, dict):
        schema = load_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    err = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if err is not None:
        raise PlanError(_format_error(err))
    filled = copy.deepcopy(config)
    _fill_defaults(filled, schema)
    return filled


# --------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True)
class Predictor:
    name: str
    level: str
    type: str = "continuous"
    centering: str = "none"
    levels: tuple | None = None
    range: tuple[float, float] | None = None


@dataclass(frozen=True)
class Level:
    name: str
    id: str | None
    ids_local_to_parent: bool
    predictors: tuple[Predictor, ...]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    label: str
    formula: str
    fixed: tuple[str, ...]
    random: dict = field(hash=False)


@dataclass(frozen=True)
class Plan:
    """The validated plan. Build with :func:`load_plan` or :meth:`Plan.from_config`."""

    config: dict = field(hash=False, repr=False)
    project: str
    seed: int
    alpha: float
    data: dict = field(hash=False)
    outcome: str
    outcome_range: tuple[float, float] | None
    levels: tuple[Level, ...]
    models: tuple[ModelSpec, ...]
    estimators: tuple[str, ...]
    backend: str
    checks: dict = field(hash=False)
    missing: dict = field(hash=False)
    centering_names: dict = field(hash=False)
    report: dict = field(hash=False)
    # sensitivity.grid.SensitivityPlan
    sensitivity: Any = field(default=None, hash=False, repr=False)

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_config(cls, config: dict, schema=None) -> Plan:
        cfg = validate_config(config, schema)
        levels = []
        seen: dict[str, str] = {}
        for i, lv in enumerate(cfg["levels"]):
            if i > 0 and not lv["id"]:
                raise PlanError(f"levels[{i}].id: level {lv['name']!r} needs an ID column")
            preds = []
            for pname, p in lv["predictors"].items():
                if pname in seen:
                    raise PlanError(
                        f"levels[{i}].predictors.{pname}: already declared at level {seen[pname]!r}"
                    )
                seen[pname] = lv["name"]
                if p["centering"] == "group" and i == len(cfg["levels"]) - 1:
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
                        levels=tuple(p["levels"]) if p["levels"] is not None else None,
                        range=tuple(p["range"]) if p["range"] is not None else None,
                    )
                )
            levels.append(Level(lv["name"], lv["id"], lv["ids_local_to_parent"], tuple(preds)))
        names = [lv.name for lv in levels]
        if len(set(names)) != len(names):
            raise PlanError(f"levels: level names must be unique, got {names}")
        if cfg["outcome"]["name"] in seen:
            raise PlanError(
                f"outcome.name: {cfg['outcome']['name']!r} is also declared a predictor"
            )
        plan = cls(
            config=cfg,
            project=cfg["project"],
            seed=cfg["seed"],
            alpha=cfg["alpha"],
            data=cfg["data"],
            outcome=cfg["outcome"]["name"],
            outcome_range=tuple(cfg["outcome"]["range"]) if cfg["outcome"]["range"] else None,
            levels=tuple(levels),
            models=(),
            estimators=tuple(cfg["estimation"]["estimators"]),
            backend=cfg["estimation"]["backend"],
            checks=cfg["checks"],
            missing=resolve_missing(cfg["missing"]),
            centering_names=cfg["centering"],
            report=cfg["report"],
        )
        family = cfg["estimation"].get("family", "gaussian")
        from mlmpipe.plan_family import check_family

        check_family(cfg["estimation"])
        if cfg["estimation"].get("df_method") == "kenward_roger" and plan.backend != "mlmpipe":
            raise PlanError("estimation.df_method: kenward_roger needs backend 'mlmpipe'")
        if family != "gaussian" and "reml" in plan.estimators:
            raise PlanError(
                f"estimation.estimators: family {family!r} has no REML criterion; allowed: [ml]"
            )
        from mlmpipe.sequence import build_sequence

        object.__setattr__(plan, "models", build_sequence(plan, cfg["models"]))
        for i, h in enumerate(cfg["hypotheses"]):
            if h["model"] not in plan.model_names:
                raise PlanError(
                    f"hypotheses[{i}].model: no model named {h['model']!r}; "
                    f"models are {list(plan.model_names)}"
                )
        _check_time_variable(cfg["report"].get("time_variable"), levels)
        from mlmpipe.sensitivity.grid import build_sensitivity

        object.__setattr__(plan, "sensitivity", build_sensitivity(cfg["sensitivity"], plan))
        return plan

    # ---------------------------------------------------------------- derived facts
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
        return self.centering_names["centered_name"].format(name=p.name)

    def cluster_mean_name(self, p: Predictor) -> str:
        return self.centering_names["cluster_mean_name"].format(name=p.name)

    def model_variables(self) -> dict[str, str]:
        """Variables a model may use, mapped to the level where they live."""
        out: dict[str, str] = {}
        for p in self.predictors:
            out[p.name] = p.level
            if p.centering == "grand":
                out[self.centered_name(p)] = p.level
            elif p.centering == "group":
                out[self.centered_name(p)] = p.level
                out[self.cluster_mean_name(p)] = self.parent_of(p.level).name
        return out

    @property
    def model_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.models)

    def model(self, name: str) -> ModelSpec:
        for m in self.models:
            if m.name == name:
                return m
        raise PlanError(f"models: no model named {name!r}; models are {list(self.model_names)}")

    @property
    def imputations(self) -> tuple[int, ...]:
        """Data sets the missing step writes: ``0`` (observed / listwise) and ``1..m`` if imputing."""
        return tuple(range(self.missing["m"] + 1))

    @property
    def pooled_imputations(self) -> tuple[int, ...]:
        """Data sets whose fits are pooled: ``(0,)`` without imputation, else ``1..m``."""
        return tuple(range(1, self.missing["m"] + 1)) if self.missing["m"] else (0,)

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

    @property
    def hash(self) -> str:
        return hashlib.sha256(canonical_json(self.config).encode()).hexdigest()

    # ---------------------------------------------------------------- per-rule slices
    def slice_fetch(self) -> str:
        return canonical_json({k: self.data[k] for k in ("source", "example", "file")})

    def slice_validate(self) -> str:
        """Everything validation needs; deliberately excludes centering decisions and models."""
        return canonical_json(
            {
                "format": self.data["format"],
                "outcome": self.config["outcome"],
                "levels": [
                    {
                        "name": lv.name,
                        "id": lv.id,
                        "ids_local_to_parent": lv.ids_local_to_parent,
                        "predictors": {
                            p.name: {"type": p.type, "levels": p.levels, "range": p.range}
                            for p in lv.predictors
                        },
                    }
                    for lv in self.levels
                ],
                "checks": self.checks,
            }
            # an ordinal outcome is checked for being one (few categories); others keep their hash
            | ({"family": "ordinal"} if self.glmm_options().get("family") == "ordinal" else {})
        )

    def slice_missing(self) -> str:
        out = {"missing": self.missing, "seed": self.seed}
        # only under imputation do model edits (their interactions) rerun the missing step
        if self.missing["method"] == "multiple_imputation":
            out["interactions"] = self.interaction_pairs()
            # a binary or count outcome is imputed by PMM (mlmpipe.missing.outcome_kind)
            out |= {"family": self.glmm_options()["family"]} if self.glmm_options() else {}
        return canonical_json(out)

    def slice_center(self) -> str:
        return canonical_json(
            {
                "names": self.centering_names,
                "levels": [
                    {
                        "name": lv.name,
                        "id": lv.id,
                        "predictors": {p.name: p.centering for p in lv.predictors},
                    }
                    for lv in self.levels
                ],
            }
        )

    def slice_fit(self, model: str, estimator: str) -> str:
        m = self.model(model)
        return canonical_json(
            {
                "model": m.name,
                "formula": m.formula,
                "estimator": estimator,
                "backend": self.backend,
                "convergence": self.config["convergence"],
                **self.glmm_options(),
                **self.df_options(estimator),
            }
        )

    def df_options(self, estimator: str) -> dict:
        """``df_method`` for ``mlmpipe.fit`` when the plan chooses Kenward-Roger and the fit is a
        REML linear mixed model; empty otherwise (ML fits keep Satterthwaite, and slices of plans
        without the key keep their hashes)."""
        est = self.config["estimation"]
        method = est.get("df_method", "satterthwaite")
        if method == "satterthwaite" or estimator != "reml" or self.glmm_options():
            return {}
        return {"df_method": method}

    def glmm_options(self) -> dict:
        """``family``, ``link``, ``nagq`` of a non-gaussian plan for ``mlmpipe.fit`` (else empty, so
        linear-model slices and their hashes are unchanged)."""
        est = self.config["estimation"]
        if est.get("family", "gaussian") == "gaussian":
            return {}
        return {"family": est["family"], "link": est.get("link"), "nagq": est.get("nagq", 1)}

    def slice_delta(self) -> str:
        """MNAR delta adjustment: outcome, grid, and the model / term whose conclusion is tested
        (default: the last model of the sequence and its last fixed effect)."""
        d = self.missing["delta"]
        m = self.model(d["model"]) if d["model"] else self.models[-1]
        est = "reml" if "reml" in self.estimators else "ml"
        return canonical_json(
            {
                "outcome": self.outcome,
                "grid": d["grid"],
                "model": m.name,
                "formula": m.formula,
                "term": d["term"],
                "estimator": est,
                "alpha": self.alpha,
                "backend": self.backend,
            }
            # non-gaussian plans: link-scale shift, seeded coupled draws (gaussian hash unchanged)
            | ({"glmm": self.glmm_options(), "seed": self.seed} if self.glmm_options() else {})
        )

    def slice_compare(self) -> str:
        return canonical_json(
            {
                "models": [
                    {"name": m.name, "label": m.label, "formula": m.formula} for m in self.models
                ],
                "estimators": list(self.estimators),
                "alpha": self.alpha,
                "levels": [[lv.name, lv.id] for lv in self.levels],
            }
        )

    def slice_predictions(self) -> str:
        """GLMM predictions of the final model (``report.predictions``); only non-gaussian plans
        have the rule."""
        return canonical_json(
            {
                "model": self.models[-1].name,
                "alpha": self.alpha,
                "predictions": self.report["predictions"],
                **self.glmm_options(),
            }
        )

    def slice_report(self) -> str:
        return canonical_json(
            {
                "report": self.report,
                "alpha": self.alpha,
                "project": self.project,
                "outcome": self.outcome,
                "levels": [[lv.name, lv.id] for lv in self.levels],
                "models": [{"name": m.name, "label": m.label} for m in self.models],
                "hypotheses": self.config["hypotheses"],
            }
        )


def _check_time_variable(name: str | None, levels: list[Level]) -> None:
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


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def load_plan(path: str | Path, schema=None) -> Plan:
    """Read a plan YAML file, validate it and return a :class:`Plan`."""
    path = Path(path)
    if not path.exists():
        raise PlanError(f"plan file {str(path)!r} does not exist")
    try:
        with open(path, encoding="utf-8") as fh:
            cfg = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise PlanError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return Plan.from_config(cfg or {}, schema)


def plan_from_slice(text: str) -> dict:
    """Decode a slice produced by one of the ``Plan.slice_*`` methods."""
    return json.loads(text)


# --------------------------------------------------------------------------- artifact paths

RAW_DIR = "data/raw"


def raw_path(plan: Plan) -> str:
    return f"{RAW_DIR}/{plan.data['file']}"


def resolve_missing(spec: dict) -> dict:
    """Fill the method-dependent default of ``missing.m`` and check the missing-data plan."""
    out = copy.deepcopy(spec)
    mi = out["method"] == "multiple_imputation"
    if out["m"] is None:
        out["m"] = 20 if mi else 0
    if not mi and out["m"] != 0:
        raise PlanError(
            f"missing.m: {out['m']} imputations need missing.method: multiple_imputation "
            "(listwise analyses the observed data; use m: 0)"
        )
    if mi and out["m"] < 2:
        raise PlanError(
            f"missing.m: multiple imputation needs at least 2 imputations, got {out['m']}"
        )
    if out["delta"]["grid"] and not mi:
        raise PlanError(
            "missing.delta.grid: delta adjustment needs missing.method: multiple_imputation"
        )
    return out


def centering_state_path(plan: Plan, imp: int | str) -> str:
    """Centering state used for data set ``imp``: computed on that data set itself (the plan's
    ``missing.centering: per_imputation``); ``imp0`` keeps ``reports/centering.json``."""
    return "reports/centering.json" if int(imp) == 0 else f"reports/centering/imp{imp}.json"


def fit_path(model: str, estimator: str, imp: int | str) -> str:
    return f"reports/fits/{model}/{estimator}/imp{imp}.json"


def targets(plan: Plan) -> list[str]:
    """Final artifacts of the pipeline (the inputs of Snakemake's ``rule all``)."""
    pooled = [
        f"reports/fits/{m}/{e}/pooled.json" for m in plan.model_names for e in plan.estimators
    ]
    from mlmpipe.missing.targets import missing_targets
    from mlmpipe.sensitivity.grid import sensitivity_targets

    return (
        pooled
        + sensitivity_targets(plan)
        + missing_targets(plan)
        + [
            "reports/checks.json",
            "reports/missing.json",
            "reports/centering.json",
            "reports/comparison.json",
            "reports/provenance.json",
            "reports/report.html",
            "reports/report.docx",
        ]
    )


def library_files(*modules: str) -> list[str]:
    """Absolute paths of library source files so rules rerun when that code changes.

    ``modules`` are dotted names relative to ``mlmpipe`` (``"centering"``, ``"data"``); a package
    contributes all of its ``.py`` files.
    """
    root = Path(str(resources.files("mlmpipe")))
    out: list[str] = []
    for mod in modules:
        p = root.joinpath(*mod.split("."))
        if p.is_dir():
            out.extend(str(f) for f in sorted(p.rglob("*.py")))
        elif p.with_suffix(".py").exists():
            out.append(str(p.with_suffix(".py")))
    return out
