"""``parse_formula``: an lme4 formula → an immutable ``FormulaSpec``.

Random-effects terms follow lme4's ``findbars``/``nobars``:

* ``(expr || g)`` → ``(1 | g) + (0 + t | g)`` for every term ``t`` of ``expr``
  (``expandDoubleVerts``), each a separate term with the same grouping factor ``g``.
* ``(expr | a/b)`` → ``(expr | b:a) + (expr | a)``; ``a/b/c`` → ``c:(b:a)``, ``b:a``, ``a``
  (``expandSlash``; names are R's deparse of the interaction call).
* The fixed part is the formula with the bar terms removed (``y ~ (1|g)`` has fixed part ``y ~ 1``).

Besides the expanded terms the spec keeps the right-hand side *as written*: its top-level ``+``/``-``
operands (``FormulaSpec.rhs``), a bar among them as one ``Bar`` with its own operands. Edits of a
model (``mlmpipe.formula.edit``) are operations on these values; ``from_parts`` re-derives the
expanded terms exactly as ``parse_formula`` does, so an edited spec and the parse of its rendering
(``mlmpipe.formula.render``) build the same design.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlmpipe.errors import FormulaError
from mlmpipe.formula.algebra import TermSpec, expand_terms
from mlmpipe.formula.membership import MembershipSpec, is_mm, membership_spec
from mlmpipe.formula.parse import (
    BinOp,
    Name,
    Node,
    Num,
    Paren,
    UnaryOp,
    deparse,
    parse_expr,
    walk_names,
)


@dataclass(frozen=True)
class RandomSpec:
    """One random-effects term ``(lhs | group)`` after ``||`` and ``/`` expansion.

    Attributes:
        lhs: terms of the left-hand side (its model matrix gives the columns of Z).
        group: the grouping-factor expression (a name or a ``:`` interaction of names/expressions).
        group_name: R's name of the grouping factor, e.g. ``"school"``, ``"class:school"``.
        leaves: the factors making up the grouping factor, outermost first (``a:b`` → ``a``, ``b``);
            for a multiple-membership group ``mm(g1, g2, ...)`` the ID columns ``g1``, ``g2``, ...
        membership: the ``mm()`` arguments of a multiple-membership group, None otherwise.
    """

    lhs: TermSpec
    group: Node
    group_name: str
    leaves: tuple[Node, ...]
    membership: MembershipSpec | None = None


@dataclass(frozen=True)
class Addend:
    """One operand of a top-level ``+``/``-`` chain as written: ``op`` joins it to what precedes
    (``"+"`` for the first operand, whose own sign, if any, is part of ``node``)."""

    op: str
    node: Node | Bar


@dataclass(frozen=True)
class Bar:
    """A random-effects term as written, ``(lhs | group)`` or ``(lhs || group)``, before expansion.

    Attributes:
        lhs: the operands of the left-hand side (``1``, ``0``, ``x``, ``f``, ``x:z`` ...).
        group: the grouping-factor expression (may contain ``/`` and ``:``).
        double: True for ``||`` (uncorrelated effects).
    """

    lhs: tuple[Addend, ...]
    group: Node
    double: bool

    @property
    def group_name(self) -> str:
        """The grouping expression as R deparses it, e.g. ``"school"``, ``"school/class"``."""
        return deparse(self.group)

    @property
    def terms(self) -> TermSpec:
        """The expanded terms of the left-hand side (intercept flag and term labels)."""
        return expand_terms(self.node.left, deparse(self.node))

    @property
    def node(self) -> BinOp:
        """The bar as an expression node (without the enclosing parentheses)."""
        lhs = chain(self.lhs) if self.lhs else Num(1.0)
        return BinOp("||" if self.double else "|", lhs, self.group)


@dataclass(frozen=True)
class FormulaSpec:
    """A parsed lme4 formula.

    Attributes:
        formula: the formula text as given.
        response: the left-hand side expression (``None`` for a one-sided formula).
        fixed: terms of the fixed-effects part.
        random: random-effects terms in formula order (expanded).
        variables: the data columns the formula uses.
        rhs: the right-hand side as written: its top-level operands, bars kept whole.
    """

    formula: str
    response: Node | None
    fixed: TermSpec
    random: tuple[RandomSpec, ...]
    variables: frozenset[str]
    rhs: tuple[Addend, ...] = ()

    @property
    def bars(self) -> tuple[Bar, ...]:
        """The random-effects terms as written (``(a + b || g)`` is one bar), in formula order."""
        return tuple(a.node for a in self.rhs if isinstance(a.node, Bar))

    @property
    def grouping_variables(self) -> frozenset[str]:
        """Data columns that make up grouping factors."""
        return frozenset(n for r in self.random for leaf in r.leaves for n in walk_names(leaf))

    @property
    def predictors(self) -> frozenset[str]:
        """Data columns of the fixed part and the random-effects left-hand sides, without the
        response's and the grouping factors' columns."""
        used = set(self.fixed.columns).union(*(r.lhs.columns for r in self.random))
        response = set(walk_names(self.response)) if self.response is not None else set()
        return frozenset(used - response - self.grouping_variables)

    @property
    def response_name(self) -> str:
        return deparse(self.response) if self.response is not None else ""


def _is_bar(node: Node) -> bool:
    inner = node.inner if isinstance(node, Paren) else node
    return isinstance(inner, BinOp) and inner.op in ("|", "||")


def addends(node: Node | None) -> tuple[Addend, ...]:
    """The operands of a top-level ``+``/``-`` chain (the left spine of R's left-assoc parse);
    a (parenthesized) ``lhs | g`` operand becomes a ``Bar``."""
    if node is None:
        return ()
    out: list[Addend] = []
    while isinstance(node, BinOp) and node.op in ("+", "-"):
        out.append(Addend(node.op, node.right))
        node = node.left
    out.append(Addend("+", node))
    out.reverse()
    return tuple(Addend(a.op, _as_bar(a.node)) if a.op == "+" else a for a in out)


def _as_bar(node: Node) -> Node | Bar:
    if not _is_bar(node):
        return node
    inner = node.inner if isinstance(node, Paren) else node
    return Bar(addends(inner.left), inner.right, inner.op == "||")


def chain(parts: tuple[Addend, ...]) -> Node | None:
    """The expression of a sequence of operands (inverse of ``addends``; ``None`` when empty)."""
    node: Node | None = None
    for a in parts:
        item = Paren(a.node.node) if isinstance(a.node, Bar) else a.node
        node = item if node is None else BinOp(a.op, node, item)
    return node


def _split_bars(node: Node, bars: list[BinOp]) -> Node | None:
    """Remove bar terms from ``+``/``-`` chains (lme4 ``nobars``), collecting them in order."""
    if _is_bar(node):
        bars.append(node.inner if isinstance(node, Paren) else node)
        return None
    if isinstance(node, BinOp) and node.op == "+":
        left = _split_bars(node.left, bars)
        right = _split_bars(node.right, bars)
        if left is None or right is None:
            return right if left is None else left
        return BinOp("+", left, right)
    if isinstance(node, BinOp) and node.op == "-":
        left = _split_bars(node.left, bars)
        return UnaryOp("-", node.right) if left is None else BinOp("-", left, node.right)
    return node


def _slash_terms(node: Node) -> list | Node:
    inner = node.inner if isinstance(node, Paren) else node
    if isinstance(inner, BinOp) and inner.op == "/":
        return [_slash_terms(inner.left), _slash_terms(inner.right)]
    return node


def _make_interaction(x: list | Node) -> list | Node:
    """lme4's ``makeInteraction``: ``[a, b]`` → ``[b:a, a]``."""
    if not isinstance(x, list):
        return x
    first = _make_interaction(x[0])
    head = first[0] if isinstance(first, list) else first
    return [BinOp(":", x[1], head), first]


def _flatten(x: list | Node) -> list[Node]:
    if isinstance(x, list):
        return [n for item in x for n in _flatten(item)]
    return [x]


def _leaves(node: Node) -> list[Node]:
    inner = node.inner if isinstance(node, Paren) else node
    if isinstance(inner, BinOp) and inner.op == ":":
        return _leaves(inner.left) + _leaves(inner.right)
    return [inner]


def _random_terms(bar: BinOp, formula: str) -> list[RandomSpec]:
    lhs_text = deparse(bar.left)
    groups = _flatten(_make_interaction(_slash_terms(bar.right)))
    if bar.op == "||":
        lhs = expand_terms(bar.left, formula)
        pieces = (["1"] if lhs.intercept else []) + [f"0 + {t}" for t in lhs.term_labels]
    else:
        pieces = [lhs_text]
    out = []
    for piece in pieces:  # lme4 expands || first, then / (so pieces vary slowest)
        terms = expand_terms(parse_expr(piece), formula)
        for group in groups:
            if _has_mm(group):
                out.append(_mm_term(terms, group, bar, formula))
                continue
            leaves = tuple(_leaves(group))
            for leaf in leaves:
                if isinstance(leaf, Num | BinOp | UnaryOp):
                    raise FormulaError(
                        f"invalid grouping factor {deparse(group)!r} in formula {formula!r}"
                    )
            out.append(RandomSpec(terms, group, deparse(group), leaves))
    return out


def _has_mm(node: Node) -> bool:
    inner = node.inner if isinstance(node, Paren) else node
    if is_mm(inner):
        return True
    if isinstance(inner, BinOp):
        return _has_mm(inner.left) or _has_mm(inner.right)
    return False


def _mm_term(terms: TermSpec, group: Node, bar: BinOp, formula: str) -> RandomSpec:
    """A multiple-membership term ``(expr | mm(...))``; ``mm()`` cannot be nested or interacted."""
    inner = group.inner if isinstance(group, Paren) else group
    if not is_mm(inner) or not is_mm(_strip(bar.right)):
        raise FormulaError(
            f"mm() must be the whole grouping factor, not part of {deparse(bar.right)!r} "
            f"(nesting or interacting a multiple-membership factor is not supported; "
            f"formula {formula!r})"
        )
    mm = membership_spec(inner, formula)
    leaves = tuple(Name(c) for c in mm.ids)
    return RandomSpec(terms, inner, deparse(inner), leaves, mm)


def _strip(node: Node) -> Node:
    return node.inner if isinstance(node, Paren) else node


def parse_formula(formula: str) -> FormulaSpec:
    """Parse an lme4 formula such as ``"mAch ~ meanses*cses + sector*cses + (cses | school)"``."""
    if not isinstance(formula, str):
        raise FormulaError(f"formula must be a string, got {type(formula).__name__}")
    node = parse_expr(formula)
    if isinstance(node, BinOp) and node.op == "~":
        response, rhs = node.left, node.right
    elif isinstance(node, UnaryOp) and node.op == "~":
        response, rhs = None, node.operand
    else:
        raise FormulaError(f"formula {formula!r} has no '~'")
    return _assemble(formula, response, rhs)


def from_parts(formula: str, response: Node | None, rhs: tuple[Addend, ...]) -> FormulaSpec:
    """The spec of ``response ~ rhs`` (operands as in ``FormulaSpec.rhs``; empty means ``~ 1``),
    derived as ``parse_formula`` derives it; ``formula`` is its text (see ``render``)."""
    return _assemble(formula, response, chain(rhs) if rhs else Num(1.0))


def _assemble(formula: str, response: Node | None, rhs: Node) -> FormulaSpec:
    bars: list[BinOp] = []
    fixed_rhs = _split_bars(rhs, bars)
    fixed = expand_terms(fixed_rhs, formula)
    random = tuple(r for bar in bars for r in _random_terms(bar, formula))
    names: set[str] = set(fixed.columns)
    if response is not None:
        names.update(walk_names(response))
    for r in random:
        names.update(r.lhs.columns)
        for leaf in r.leaves:
            names.update(walk_names(leaf))
        if r.membership is not None:
            names.update(r.membership.columns)
    if isinstance(response, Name) and response.id == ".":
        raise FormulaError(f"'.' is not supported in formula {formula!r}")
    return FormulaSpec(formula, response, fixed, random, frozenset(names), addends(rhs))
