"""The staged model sequence: plan entries -> lme4-syntax formulas.

Each entry of ``models`` adds fixed terms (``add_fixed``) and random slopes (``add_random``, keyed by
level name) to the previous model; every level above the first always has a random intercept.
An entry may instead give an explicit ``formula`` (used verbatim; later entries keep adding to the
last staged model).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlmpipe.errors import PlanError

if TYPE_CHECKING:
    from mlmpipe.plan import ModelSpec, Plan


def _check_term(plan: Plan, term: str, key: str, known: dict[str, str]) -> None:
    for var in term.split(":"):
        if var.strip() not in known:
            allowed = ", ".join(sorted(known))
            raise PlanError(f"{key}: unknown variable {var.strip()!r}; allowed: {allowed}")


def formula_of(plan: Plan, fixed: list[str], random: dict[str, list[str]]) -> str:
    rhs = " + ".join(["1", *fixed])
    re_parts = []
    for lv in reversed(plan.cluster_levels):
        slopes = random.get(lv.name, [])
        expr = " + ".join(["1", *slopes])
        re_parts.append(f"({expr} | {lv.id})")
    return f"{plan.outcome} ~ {rhs} + {' + '.join(re_parts)}"


def build_sequence(plan: Plan, entries: list[dict]) -> tuple[ModelSpec, ...]:
    """Turn the plan's ``models`` entries into :class:`ModelSpec` objects with formulas."""
    from mlmpipe.plan import ModelSpec

    known = plan.model_variables()
    cluster_names = [lv.name for lv in plan.cluster_levels]
    fixed: list[str] = []
    random: dict[str, list[str]] = {}
    out = []
    names = set()
    for i, entry in enumerate(entries):
        key = f"models[{i}]"
        if entry["name"] in names:
            raise PlanError(f"{key}.name: duplicate model name {entry['name']!r}")
        names.add(entry["name"])
        for term in entry.get("add_fixed", []):
            _check_term(plan, term, f"{key}.add_fixed", known)
            if term in fixed:
                raise PlanError(f"{key}.add_fixed: {term!r} is already in the previous model")
        for lvname, slopes in entry.get("add_random", {}).items():
            if lvname not in cluster_names:
                raise PlanError(
                    f"{key}.add_random: {lvname!r} is not a clustering level; "
                    f"allowed: {', '.join(cluster_names)}"
                )
            for s in slopes:
                _check_term(plan, s, f"{key}.add_random.{lvname}", known)
        new_fixed = fixed + list(entry.get("add_fixed", []))
        new_random = {k: list(v) for k, v in random.items()}
        for lvname, slopes in entry.get("add_random", {}).items():
            new_random.setdefault(lvname, [])
            new_random[lvname] += [s for s in slopes if s not in new_random[lvname]]
            # a random slope needs its fixed counterpart
            new_fixed += [s for s in slopes if s not in new_fixed]
        if entry.get("formula"):
            formula = entry["formula"]
        else:
            fixed, random = new_fixed, new_random
            formula = formula_of(plan, fixed, random)
        out.append(
            ModelSpec(
                name=entry["name"],
                label=entry.get("label") or entry["name"],
                formula=formula,
                fixed=tuple(new_fixed),
                random=new_random,
            )
        )
    return tuple(out)
