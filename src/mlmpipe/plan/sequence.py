"""The staged model sequence: plan entries -> lme4-syntax formulas.

Each entry of ``models`` adds fixed terms (``add_fixed``) and random slopes (``add_random``, keyed by
level name) to the previous model; every level above the first always has a random intercept.
An entry may instead give an explicit ``formula`` (used verbatim; later entries keep adding to the
last staged model).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from mlmpipe.errors import FormulaError, PlanError
from mlmpipe.formula import parse_formula
from mlmpipe.plan.frozen import FrozenMap
from mlmpipe.plan.sections import Level, ModelEntry, ModelSpec


def _check_term(term: str, key: str, known: Mapping[str, str]) -> None:
    for var in term.split(":"):
        if var.strip() not in known:
            allowed = ", ".join(sorted(known))
            raise PlanError(f"{key}: unknown variable {var.strip()!r}; allowed: {allowed}")


def formula_of(
    outcome: str,
    cluster_levels: Sequence[Level],
    fixed: Sequence[str],
    random: Mapping[str, Sequence[str]],
    uncorrelated: bool = False,
) -> str:
    """lme4 formula: intercept + fixed terms, and per cluster level (top first) a random intercept
    plus its slopes (``||``: slopes uncorrelated with the intercept and each other)."""
    rhs = " + ".join(["1", *fixed])
    re_parts = []
    for lv in reversed(cluster_levels):
        slopes = list(random.get(lv.name, ()))
        bar = "||" if uncorrelated and slopes else "|"
        re_parts.append(f"({' + '.join(['1', *slopes])} {bar} {lv.id})")
    return f"{outcome} ~ {rhs} + {' + '.join(re_parts)}"


def build_sequence(
    entries: Sequence[ModelEntry],
    outcome: str,
    cluster_levels: Sequence[Level],
    known: Mapping[str, str],
) -> tuple[ModelSpec, ...]:
    """Turn the plan's ``models`` entries into :class:`ModelSpec` objects with formulas.

    ``known``: the variables a model may use (raw, centred, cluster means) -> their level.
    """
    cluster_names = [lv.name for lv in cluster_levels]
    fixed: list[str] = []
    random: dict[str, list[str]] = {}
    out = []
    names = set()
    for i, entry in enumerate(entries):
        key = f"models[{i}]"
        if entry.name in names:
            raise PlanError(f"{key}.name: duplicate model name {entry.name!r}")
        names.add(entry.name)
        for term in entry.add_fixed:
            _check_term(term, f"{key}.add_fixed", known)
            if term in fixed:
                raise PlanError(f"{key}.add_fixed: {term!r} is already in the previous model")
        for lvname, slopes in entry.add_random.items():
            if lvname not in cluster_names:
                raise PlanError(
                    f"{key}.add_random: {lvname!r} is not a clustering level; "
                    f"allowed: {', '.join(cluster_names)}"
                )
            for s in slopes:
                _check_term(s, f"{key}.add_random.{lvname}", known)
        new_fixed = fixed + list(entry.add_fixed)
        new_random = {k: list(v) for k, v in random.items()}
        for lvname, slopes in entry.add_random.items():
            new_random.setdefault(lvname, [])
            new_random[lvname] += [s for s in slopes if s not in new_random[lvname]]
            # a random slope needs its fixed counterpart
            new_fixed += [s for s in slopes if s not in new_fixed]
        if entry.formula:
            formula = entry.formula
            try:  # a syntax error is the plan's, named by its key, before anything runs
                parse_formula(formula)
            except FormulaError as exc:
                raise PlanError(f"{key}.formula: {exc}") from None
        else:
            fixed, random = new_fixed, new_random
            formula = formula_of(outcome, cluster_levels, fixed, random)
        out.append(
            ModelSpec(
                name=entry.name,
                label=entry.label or entry.name,
                formula=formula,
                fixed=tuple(new_fixed),
                random=FrozenMap.of({k: tuple(v) for k, v in new_random.items()}),
                staged=not entry.formula,
                residual=entry.residual,
            )
        )
    return tuple(out)


def with_random(
    model: ModelSpec, outcome: str, cluster_levels: Sequence[Level], structure: str
) -> ModelSpec:
    """A staged model with another random structure: ``slopes`` (as planned), ``intercept``
    (random intercepts only; the slopes stay fixed effects) or ``uncorrelated`` (the planned
    slopes without correlations, lme4 ``||``). Explicit-formula models stay as they are."""
    if structure == "slopes" or not model.staged:
        return model
    if structure == "intercept":
        random: FrozenMap[str, tuple[str, ...]] = FrozenMap()
        formula = formula_of(outcome, cluster_levels, model.fixed, random)
        return replace(model, formula=formula, random=random)
    if structure == "uncorrelated":
        formula = formula_of(outcome, cluster_levels, model.fixed, model.random, uncorrelated=True)
        return replace(model, formula=formula)
    raise PlanError(
        f"with_choices: random {structure!r} is not allowed; allowed: slopes, intercept, "
        "uncorrelated"
    )
