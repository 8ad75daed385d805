"""Designs that are not one chain of nested levels: crossed classifications and multiple membership.

* ``classifications: [{name, id, crosses, predictors, centering}]``: a classification whose
  clusters cross the hierarchy (students in a primary school *and* a secondary school; Goldstein
  2011, *Multilevel Statistical Models*, ch. 12; Raudenbush & Bryk 2002, ch. 12). ``crosses`` names
  the level (or earlier classification) it is crossed with; ``predictors`` are the variables
  measured on its clusters (as in ``levels``); ``centering`` is to list level-1 predictors whose
  means over this classification's clusters the models may use (validated, not yet computed:
  a non-empty list is a plan error). Every staged model gets ``(1 | id)``.
* ``membership``: a multiple-membership classification (Hill & Goldstein 1998; Browne, Goldstein &
  Rasbash 2001), either a long table ``{name, table, unit, cluster, weight, normalise}`` (one row
  per unit x cluster, pivoted by the validate step into ``slots`` wide columns) or wide columns
  ``{name, columns: [s1..sK], weights: [w1..wK], normalise}``. A membership named like a
  clustering level replaces that level's grouping (its random slopes stay, now on ``mm()``);
  otherwise every staged model gets
  ``(1 | mm(s1, ..., sK, weights = cbind(w1, ..., wK), scale = normalise))``; weights are divided
  by their unit's sum unless ``normalise: false``.

The terms are added to the parsed formula (:mod:`mlmpipe.formula.edit`), never pasted as text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from mlmpipe.errors import PlanError
from mlmpipe.formula import parse_formula
from mlmpipe.formula.edit import with_rhs
from mlmpipe.formula.parse import Num, parse_expr
from mlmpipe.formula.render import render
from mlmpipe.formula.spec import Addend, Bar
from mlmpipe.plan.frozen import FrozenMap, Section, freeze
from mlmpipe.plan.sections import Level, ModelSpec, Predictor


@dataclass(frozen=True)
class Classification(Section):
    """One crossed classification: its ID column, the level it crosses, its cluster-level
    predictors and the level-1 predictors averaged over its clusters."""

    name: str
    id: str
    crosses: str
    predictors: tuple[Predictor, ...] = ()
    centering: tuple[str, ...] = ()

    def to_config(self) -> dict:
        return {
            "name": self.name,
            "id": self.id,
            "crosses": self.crosses,
            "predictors": {p.name: p.to_config() for p in self.predictors},
            "centering": list(self.centering),
        }


@dataclass(frozen=True)
class MembershipSection(Section):
    """``membership``: a long table (``table``, ``unit``, ``cluster``, ``weight``, ``slots``) or
    wide ``columns`` + ``weights``; ``normalise`` divides each unit's weights by their sum."""

    name: str
    table: str | None = None
    unit: str | None = None
    cluster: str | None = None
    weight: str | None = None
    slots: int | None = None  # long table: most memberships of a unit (None: 3)
    columns: tuple[str, ...] = ()
    weights: tuple[str, ...] = ()
    normalise: bool = True

    @property
    def long(self) -> bool:
        return self.table is not None

    @property
    def id_columns(self) -> tuple[str, ...]:
        """The wide ID columns the model reads (for a long table: those the validate step makes,
        ``<name>_mm1..K``)."""
        if self.long:
            return tuple(f"{self.name}_mm{k}" for k in range(1, (self.slots or 3) + 1))
        return self.columns

    @property
    def weight_columns(self) -> tuple[str, ...]:
        """The wide weight columns (long table: ``<name>_mmw1..K``; empty = equal weights)."""
        if self.long:
            return tuple(f"{self.name}_mmw{k}" for k in range(1, (self.slots or 3) + 1))
        return self.weights

    @property
    def group(self) -> str:
        """The ``mm(...)`` grouping expression of the membership term."""
        args = list(self.id_columns)
        if self.weight_columns:
            args.append(f"weights = cbind({', '.join(self.weight_columns)})")
        if not self.normalise:
            args.append("scale = FALSE")
        return f"mm({', '.join(args)})"

    def to_config(self) -> dict:
        d = self.to_dict()
        return {k: v for k, v in d.items() if v is not None and v != []}


def _predictors(d: Mapping, key: str, name: str) -> tuple[Predictor, ...]:
    out = []
    for pname, p in d.items():
        p = {"type": "continuous", "centering": "none", "levels": None, "range": None, **p}
        if p["centering"] == "group":
            raise PlanError(
                f"{key}.{pname}.centering: 'group' needs a higher level; allowed values here: "
                "none, grand"
            )
        rng = p["range"]
        out.append(
            Predictor(
                pname,
                name,
                p["type"],
                p["centering"],
                None if p["levels"] is None else tuple(p["levels"]),
                None if rng is None else tuple(rng),
            )
        )
    return tuple(out)


def classifications_from_config(
    entries: Sequence[Mapping] | None, levels: Sequence[Level]
) -> tuple[Classification, ...]:
    """The ``classifications`` section, checked against the levels: unique names and ID columns,
    ``crosses`` naming a level or an earlier classification, ``centering`` naming continuous
    level-1 predictors, predictors not declared twice."""
    out: list[Classification] = []
    names = {lv.name for lv in levels}
    ids = {lv.id for lv in levels if lv.id}
    declared = {p.name for lv in levels for p in lv.predictors}
    level1 = {p.name: p for p in levels[0].predictors}
    for i, e in enumerate(entries or ()):
        key = f"classifications[{i}]"
        if e["name"] in names:
            raise PlanError(f"{key}.name: {e['name']!r} is already a level or classification name")
        if e["id"] in ids:
            raise PlanError(f"{key}.id: column {e['id']!r} is already the ID of another level")
        allowed = [lv.name for lv in levels[1:]] + [c.name for c in out]
        if e["crosses"] not in allowed:
            raise PlanError(
                f"{key}.crosses: {e['crosses']!r} is not a clustering level or earlier "
                f"classification; allowed: {', '.join(allowed)}"
            )
        preds = _predictors(e.get("predictors") or {}, f"{key}.predictors", e["name"])
        for p in preds:
            if p.name in declared:
                raise PlanError(f"{key}.predictors.{p.name}: already declared elsewhere")
            declared.add(p.name)
        centering = tuple(e.get("centering") or ())
        for var in centering:
            if var not in level1 or level1[var].type != "continuous":
                ok = [p.name for p in level1.values() if p.type == "continuous"]
                raise PlanError(
                    f"{key}.centering: {var!r} is not a continuous level-1 predictor; allowed: "
                    f"{', '.join(ok)}"
                )
        if centering:  # validated above; the center step does not compute them yet
            raise PlanError(
                f"{key}.centering: means over a classification's clusters are not computed yet "
                "(only levels' group centering is); leave it empty"
            )
        names.add(e["name"])
        ids.add(e["id"])
        out.append(Classification(e["name"], e["id"], e["crosses"], preds, centering))
    return tuple(out)


def _data_file(value: str, key: str) -> str:
    parts = value.replace("\\", "/").split("/")
    if not value.strip() or value.startswith(("/", "\\", "~")) or ".." in parts:
        raise PlanError(f"{key}: {value!r} must be a file inside the project (no '..', relative)")
    return value


def membership_from_config(
    d: Mapping | None, levels: Sequence[Level], classifications: Sequence[Classification] = ()
) -> MembershipSection | None:
    """The ``membership`` section: exactly one of a long ``table`` (with ``unit`` and
    ``cluster``) or wide ``columns``; wide ``weights`` as many as the columns."""
    if d is None:
        return None
    taken = {lv.name for lv in levels[:1]} | {c.name for c in classifications}
    if d["name"] in taken:
        raise PlanError(
            f"membership.name: {d['name']!r} is already level 1 or a classification; name the "
            "clustering level it replaces, or a new classification"
        )
    table, columns = d.get("table"), tuple(d.get("columns") or ())
    if (table is None) == (not columns):
        raise PlanError(
            "membership: give either table (long: one row per unit and cluster) or columns "
            "(wide: one ID column per membership), not both or neither"
        )
    normalise = bool(d.get("normalise", True))
    if table is not None:
        for k in ("unit", "cluster"):
            if not d.get(k):
                raise PlanError(f"membership.{k}: required with membership.table")
        return MembershipSection(
            d["name"],
            table=_data_file(table, "membership.table"),
            unit=d["unit"],
            cluster=d["cluster"],
            weight=d.get("weight"),
            slots=d.get("slots"),
            normalise=normalise,
        )
    weights = tuple(d.get("weights") or ())
    if weights and len(weights) != len(columns):
        raise PlanError(
            f"membership.weights: {len(weights)} weight columns for {len(columns)} ID columns; "
            "give one weight per membership column"
        )
    if len(columns) < 2:
        raise PlanError("membership.columns: a multiple membership needs 2 or more ID columns")
    return MembershipSection(d["name"], columns=columns, weights=weights, normalise=normalise)


def classification_variables(classifications: Sequence[Classification]) -> dict[str, str]:
    """Variables the models may use from the classifications: their predictors -> the
    classification's name."""
    return {p.name: c.name for c in classifications for p in c.predictors}


def intercept_bar(group: str) -> Addend:
    """The parsed term ``(1 | group)``."""
    return Addend("+", Bar((Addend("+", Num(1.0)),), parse_expr(group), False))


def with_classification_terms(
    models: Sequence[ModelSpec],
    classifications: Sequence[Classification],
    membership: MembershipSection | None,
    levels: Sequence[Level] = (),
) -> tuple[ModelSpec, ...]:
    """Every staged model with ``(1 | id)`` per classification and the membership's ``mm()``
    term in its parsed formula (explicit formulas are used as written). A membership named like a
    clustering level *is* that level: the level's bars ``(... | id)`` get the ``mm()`` grouping
    (its random slopes too); otherwise ``(1 | mm(...))`` is appended."""
    ids = {lv.name: lv.id for lv in levels}
    replaced = ids.get(membership.name) if membership is not None else None
    groups = [c.id for c in classifications]
    if membership is not None and replaced is None:
        groups.append(membership.group)
    if not groups and replaced is None:
        return tuple(models)
    out = []
    for m in models:
        if not m.staged:
            out.append(m)
            continue
        spec = parse_formula(m.formula)
        rhs = tuple(
            Addend(a.op, Bar(a.node.lhs, parse_expr(membership.group), a.node.double))
            if replaced and isinstance(a.node, Bar) and a.node.group_name == replaced
            else a
            for a in spec.rhs
        )
        spec = with_rhs(spec, rhs + tuple(intercept_bar(g) for g in groups))
        out.append(replace(m, formula=render(spec)))
    return tuple(out)


def design_columns(plan) -> tuple[str, ...]:
    """Data columns the validate step keeps for the design: classification IDs and predictors,
    the membership's wide columns (a long table's are made by the validate step)."""
    cols = [c.id for c in plan.classifications]
    cols += [p.name for c in plan.classifications for p in c.predictors]
    m = plan.membership
    if m is not None:
        cols += [*m.id_columns, *m.weight_columns]
    return tuple(dict.fromkeys(cols))


def design_entry(plan) -> FrozenMap | None:
    """The validate slice's ``design``: classifications (name, id, crosses) and membership
    (its config plus ``unit_column``, the level-1 ID); None for a purely nested plan."""
    if not plan.classifications and plan.membership is None:
        return None
    out: dict = {
        "classifications": [
            {"name": c.name, "id": c.id, "crosses": c.crosses} for c in plan.classifications
        ]
    }
    if plan.membership is not None:
        m = plan.membership.to_config()
        if plan.membership.long:
            m["unit_column"] = plan.levels[0].id or plan.membership.unit
        out["membership"] = m
    return freeze(out)


def check_design_missing(
    classifications: Sequence[Classification], membership: MembershipSection | None, imputes: bool
) -> None:
    """Multiple imputation is not available for crossed or membership designs: the chained
    imputation models have random intercepts for the nested levels only, and imputing under a
    nested model would understate the crossed classifications' variance (a one-line error)."""
    if not imputes or (not classifications and membership is None):
        return
    what = "crossed classifications" if classifications else "a multiple membership"
    raise PlanError(
        f"missing.method: multiple_imputation is not available with {what} (the imputation "
        "models have random intercepts for the nested levels only); use listwise or available"
    )
