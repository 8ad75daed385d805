"""Changes of a model as operations on its parsed formula: each returns a NEW ``FormulaSpec``.

The operations act on the formula as written (``FormulaSpec.rhs``: fixed operands and whole bars);
the result's expanded terms are derived as ``parse_formula`` derives them, and its ``formula`` text
is ``render(result)``. An operation that does not apply returns ``None``.

* ``uncorrelated``: every bar with more than one random effect, ``(a + b | g)`` → ``(a + b || g)``
  (lme4's ``||``: independent effects; Bates, Kliegl, Vasishth & Baayen 2015).
* ``drop_random_effect``: one random effect named as lme4 names ``ranef`` columns.
* ``random_intercepts_only``: ``(1 | g)`` for every grouping factor.
* ``add_fixed`` / ``without_fixed``: one fixed-effects term.
* ``formula_from``: a formula from its parts (response, fixed terms, bars).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from mlmpipe.errors import FormulaError
from mlmpipe.formula.algebra import expand_terms
from mlmpipe.formula.parse import Node, Num, UnaryOp, deparse, parse_expr
from mlmpipe.formula.render import render_parts
from mlmpipe.formula.spec import Addend, Bar, FormulaSpec, addends, from_parts

_ONE, _ZERO = Addend("+", Num(1.0)), Addend("+", Num(0.0))
_GROUP_INDEX = re.compile(r"\.\d+$")  # lme4 names the k-th term of (a + b || g) "g.k"


def with_rhs(spec: FormulaSpec, rhs: Iterable[Addend]) -> FormulaSpec:
    """``spec`` with the right-hand side ``rhs`` (operands as in ``FormulaSpec.rhs``)."""
    parts = _first_signed(tuple(rhs))
    return from_parts(render_parts(spec.response, parts), spec.response, parts)


def _first_signed(parts: tuple[Addend, ...]) -> tuple[Addend, ...]:
    """After removing the first operand, a ``- x`` that became first is written ``-x``."""
    if parts and parts[0].op == "-":
        return (Addend("+", UnaryOp("-", parts[0].node)), *parts[1:])
    return parts


def _replace(spec: FormulaSpec, old: Bar, new: Bar | None) -> FormulaSpec:
    i = next(k for k, a in enumerate(spec.rhs) if a.node is old)
    rest = () if new is None else (Addend("+", new),)
    return with_rhs(spec, spec.rhs[:i] + rest + spec.rhs[i + 1 :])


def _n_effects(bar: Bar) -> int:
    """Random effects of a bar: its terms plus the intercept (``(a + b | g)`` has 3)."""
    terms = bar.terms
    return len(terms.terms) + terms.intercept


def uncorrelated(spec: FormulaSpec) -> FormulaSpec | None:
    """``|`` → ``||`` in every bar with more than one effect; None when there is none."""
    rhs, changed = [], False
    for a in spec.rhs:
        bar = a.node
        if isinstance(bar, Bar) and not bar.double and _n_effects(bar) > 1:
            rhs.append(Addend(a.op, Bar(bar.lhs, bar.group, True)))
            changed = True
        else:
            rhs.append(a)
    return with_rhs(spec, rhs) if changed else None


def _is_num(node: Node | Bar, *values: float) -> bool:
    return isinstance(node, Num) and node.value in values


def _without_effect(
    bar: Bar, effect: str, data_columns: Iterable[str]
) -> tuple[Addend, ...] | None:
    """The bar's left-hand side without ``effect``; None when the bar does not have it."""
    lhs = bar.lhs
    if effect == "(Intercept)":
        if not bar.terms.intercept:
            return None
        kept = tuple(a for a in lhs if not (a.op == "+" and _is_num(a.node, 1.0)))
        return _first_signed((*kept, _ZERO))
    texts = [
        deparse(a.node) if a.op == "+" and not _is_num(a.node, 0.0, 1.0) else None for a in lhs
    ]
    hit = next((k for k, t in enumerate(texts) if t == effect), None)
    if hit is None:  # a factor's dummy (minrtyYes): drop the whole factor term
        columns = set(map(str, data_columns))
        hit = next(
            (
                k
                for k, t in enumerate(texts)
                if t is not None and t in columns and effect.startswith(t) and effect != t
            ),
            None,
        )
    if hit is None:
        return None
    return _first_signed(lhs[:hit] + lhs[hit + 1 :])


def drop_random_effect(
    spec: FormulaSpec, group: str, effect: str, data_columns: Iterable[str]
) -> FormulaSpec | None:
    """Remove the random effect ``effect`` of grouping factor ``group``, both as lme4 names them in
    ``ranef``/``VarCorr``: ``(Intercept)``, a variable, or a factor dummy such as ``minrtyYes``
    (the whole factor term goes); ``g.1``, ``g.2`` are the terms of a ``(... || g)`` bar.

    Bars of ``group`` are searched first, then the others. Without its intercept a bar is written
    ``(x + 0 | g)``; a bar left with one effect is correlated (``|``); a bar left with none is
    removed. None when the effect is not found or no random effect would be left.
    """
    group = _GROUP_INDEX.sub("", group)
    bars = spec.bars
    columns = list(map(str, data_columns))
    for bar in [b for b in bars if b.group_name == group] + [
        b for b in bars if b.group_name != group
    ]:
        lhs = _without_effect(bar, effect, columns)
        if lhs is None:
            continue
        kept = Bar(lhs, bar.group, bar.double)
        terms = kept.terms
        if not terms.terms and not terms.intercept:
            new = None
        else:
            new = Bar(
                lhs if terms.terms else (_ONE,),
                bar.group,
                bar.double and _n_effects(kept) > 1,
            )
        out = _replace(spec, bar, new)
        return out if out.bars else None
    return None


def random_intercepts_only(spec: FormulaSpec) -> FormulaSpec:
    """Every bar replaced by ``(1 | g)`` of its grouping factor (one per grouping factor)."""
    rhs, seen = [], set()
    for a in spec.rhs:
        if isinstance(a.node, Bar):
            if a.node.group_name in seen:
                continue
            seen.add(a.node.group_name)
            rhs.append(Addend(a.op, Bar((_ONE,), a.node.group, False)))
        else:
            rhs.append(a)
    return with_rhs(spec, rhs)


def _fixed_term(term: str) -> frozenset[str]:
    ts = expand_terms(parse_expr(term), term)
    if len(ts.terms) != 1:
        raise FormulaError(f"{term!r} is not one fixed-effects term")
    return frozenset(ts.labels[i] for i in ts.terms[0])


def _term_sets(spec_terms) -> list[frozenset[str]]:
    return [frozenset(spec_terms.labels[i] for i in t) for t in spec_terms.terms]


def _term_addends(term: str) -> tuple[Addend, ...]:
    parts = addends(parse_expr(term))
    if any(isinstance(a.node, Bar) for a in parts):
        raise FormulaError(f"{term!r} is a random-effects term, not a fixed one")
    return parts


def add_fixed(spec: FormulaSpec, term: str) -> FormulaSpec:
    """``spec`` with the fixed-effects term(s) ``term`` added after the last fixed operand
    (unchanged when every term is already in the model)."""
    new = _term_addends(term)
    have = _term_sets(spec.fixed)
    new = tuple(
        a for a in new if not all(s in have for s in _term_sets(expand_terms(a.node, term)))
    )
    if not new:
        return spec
    last = max((k for k, a in enumerate(spec.rhs) if not isinstance(a.node, Bar)), default=-1)
    return with_rhs(spec, spec.rhs[: last + 1] + new + spec.rhs[last + 1 :])


def without_fixed(spec: FormulaSpec, term: str) -> FormulaSpec | None:
    """``spec`` without the fixed-effects term ``term`` (a term label such as ``x``, ``x:z``;
    ``1`` removes the intercept: ``0 + ...``). A compound operand that generates it (``x*z``) is
    replaced by its other terms. None when the fixed part has no such term."""
    if term.strip() in ("1", "(Intercept)"):
        if not spec.fixed.intercept:
            return None
        rest = _first_signed(
            tuple(a for a in spec.rhs if not (a.op == "+" and _is_num(a.node, 1.0)))
        )
        return with_rhs(spec, (_ZERO, *rest))
    target = _fixed_term(term)
    if target not in _term_sets(spec.fixed):
        return None
    for k, a in enumerate(spec.rhs):
        if a.op != "+" or isinstance(a.node, Bar) or _is_num(a.node, 0.0, 1.0):
            continue
        own = expand_terms(a.node, spec.formula)
        sets = _term_sets(own)
        if target not in sets:
            continue
        rest = tuple(
            Addend("+", parse_expr(label))
            for label, s in zip(own.term_labels, sets, strict=True)
            if s != target
        )
        return with_rhs(spec, spec.rhs[:k] + rest + spec.rhs[k + 1 :])
    return None  # the term arises only across operands, e.g. from a - b


def formula_from(
    response: str | None,
    fixed: Sequence[str],
    random: Sequence[tuple[Sequence[str], str]] = (),
    double: bool = False,
) -> FormulaSpec:
    """The spec of ``response ~ fixed[0] + fixed[1] + ... + (effects | group) + ...``.

    ``fixed`` and each ``effects`` are terms as written (``"1"``, ``"x"``, ``"x:z"``); ``double``
    writes every bar with ``||``.
    """
    rhs = [a for term in fixed for a in _term_addends(term)]
    for effects, group in random:
        lhs = tuple(a for e in effects for a in _term_addends(e))
        rhs.append(Addend("+", Bar(lhs, parse_expr(group), double)))
    resp = parse_expr(response) if response else None
    parts = _first_signed(tuple(rhs))
    return from_parts(render_parts(resp, parts), resp, parts)
