"""Schema validation and defaults of ``config/analysis.yaml``: the one place a plan is checked.

:func:`validate_config` checks the plan against the JSON schema shipped with the package and fills
every default (also inside defaults it just inserted); nothing else validates the config.
"""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from mlmpipe.errors import PlanError


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
    if v == "minItems" and isinstance(err.instance, list):
        n, have = err.validator_value, len(err.instance)
        if list(err.absolute_path) == ["levels"]:
            names = [lv.get("name") for lv in err.instance if isinstance(lv, dict)]
            return (
                f"levels: a multilevel plan needs at least {n} levels (the units and at least one "
                f"clustering level, lowest first); this plan has {have} ({', '.join(map(repr, names))})"
            )
        return f"{where}: needs at least {n} item(s), has {have}"
    if v in ("oneOf", "anyOf"):
        desc = (err.schema.get("description") or "").strip().split(";")[0]
        return f"{where}: {err.instance!r} is not allowed here" + (f" ({desc})" if desc else "")
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
