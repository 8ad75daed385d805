"""``parse_formula``: an lme4 formula → an immutable ``FormulaSpec``.

Random-effects terms follow lme4's ``findbars``/``nobars``:

* ``(expr || g)`` → ``(1 | g) + (0 + t | g)`` for every term ``t`` of ``expr``
  (``expandDoubleVerts``), each a separate term with the same grouping factor ``g``.
* ``(expr | a/b)`` → ``(expr | b:a) + (expr | a)``; ``a/b/c`` → ``c:(b:a)``, ``b:a``, ``a``
  (``expandSlash``; names are R's deparse of the interaction call).
* The fixed part is the formula with the bar terms removed (``y ~ (1|g)`` has fixed part ``y ~ 1``).
"""

from __future__ import annotations

from dataclasses import dataclass

from mlmpipe.errors import FormulaError
from mlmpipe.formula.algebra import TermSpec, expand_terms
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
        leaves: the factors making up the grouping factor, outermost first (``a:b`` → ``a``, ``b``).
    """

    lhs: TermSpec
    group: Node
    group_name: str
    leaves: tuple[Node, ...]


@dataclass(frozen=True)
class FormulaSpec:
    """A parsed lme4 formula.

    Attributes:
        formula: the formula text as given.
        response: the left-hand side expression (``None`` for a one-sided formula).
        fixed: terms of the fixed-effects part.
        random: random-effects terms in formula order (expanded).
        variables: the data columns the formula uses.
    """

    formula: str
    response: Node | None
    fixed: TermSpec
    random: tuple[RandomSpec, ...]
    variables: frozenset[str]

    @property
    def response_name(self) -> str:
        return deparse(self.response) if self.response is not None else ""


def _is_bar(node: Node) -> bool:
    inner = node.inner if isinstance(node, Paren) else node
    return isinstance(inner, BinOp) and inner.op in ("|", "||")


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
            leaves = tuple(_leaves(group))
            for leaf in leaves:
                if isinstance(leaf, Num | BinOp | UnaryOp):
                    raise FormulaError(
                        f"invalid grouping factor {deparse(group)!r} in formula {formula!r}"
                    )
            out.append(RandomSpec(terms, group, deparse(group), leaves))
    return out


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
    if isinstance(response, Name) and response.id == ".":
        raise FormulaError(f"'.' is not supported in formula {formula!r}")
    return FormulaSpec(formula, response, fixed, random, frozenset(names))
