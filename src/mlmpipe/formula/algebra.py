"""R's formula algebra: the right-hand side of a (bar-free) formula → an ordered list of terms.

Follows R's ``terms.formula``:

* ``a + b`` union, ``a:b`` interaction, ``a*b`` = ``a + b + a:b``, ``a/b`` = ``a + a:b``
  (``(a+b)/c`` = ``a + b + a:b:c``), ``a %in% b`` = ``a:b``, ``(a+b)^2`` all terms up to order 2,
  ``a - b`` removes terms, ``0``/``- 1`` drop and ``1`` restores the intercept, ``offset(x)`` is
  kept apart; anything else (a column, ``log(x)``, ``I(x^2)``) is a variable.
* Variables are numbered by first appearance; a term is a set of variables, labelled by joining the
  variable labels in that order with ``:``; terms are sorted by order (degree), stably.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlmpipe.errors import FormulaError
from mlmpipe.formula.parse import BinOp, Call, Name, Node, Num, Paren, UnaryOp, deparse, walk_names


@dataclass(frozen=True)
class TermSpec:
    """The parsed ``terms`` of a one-sided formula (R's ``terms()`` object, reduced).

    Attributes:
        variables: variable expressions, in order of first appearance.
        labels: R labels of the variables (``deparse``), e.g. ``"log(x)"``.
        terms: each term as sorted variable indices; sorted by degree then appearance.
        intercept: whether the model has an intercept.
        offsets: the expressions inside ``offset()``.
    """

    variables: tuple[Node, ...]
    labels: tuple[str, ...]
    terms: tuple[tuple[int, ...], ...]
    intercept: bool
    offsets: tuple[Node, ...] = ()

    @property
    def term_labels(self) -> tuple[str, ...]:
        """R's ``attr(terms, "term.labels")``."""
        return tuple(":".join(self.labels[i] for i in t) for t in self.terms)

    @property
    def columns(self) -> frozenset[str]:
        """Data columns referred to by the variables and offsets."""
        names: set[str] = set()
        for node in self.variables + self.offsets:
            names.update(walk_names(node))
        return frozenset(names)


def _dedupe(terms: list[frozenset[int]]) -> list[frozenset[int]]:
    out: list[frozenset[int]] = []
    seen: set[frozenset[int]] = set()
    for t in terms:
        if t and t not in seen:
            seen.add(t)
            out.append(t)
    return out


def _cross(left: list[frozenset[int]], right: list[frozenset[int]]) -> list[frozenset[int]]:
    return _dedupe([a | b for a in left for b in right])


class _Encoder:
    """Walks the right-hand side as R's ``EncodeVars`` does (with the intercept as global state)."""

    def __init__(self, formula: str) -> None:
        self.formula = formula
        self.labels: list[str] = []
        self.nodes: list[Node] = []
        self.intercept = True
        self.offsets: list[Node] = []

    def variable(self, node: Node) -> int:
        label = deparse(node)
        if label not in self.labels:
            self.labels.append(label)
            self.nodes.append(node)
        return self.labels.index(label)

    def encode(self, node: Node, parity: bool = True) -> list[frozenset[int]]:
        if isinstance(node, Paren):
            return self.encode(node.inner, parity)
        if isinstance(node, Num):
            if node.value not in (0.0, 1.0):
                raise FormulaError(
                    f"invalid model term {deparse(node)!r} in formula {self.formula!r}"
                )
            self.intercept = parity if node.value == 1.0 else not parity
            return []
        if isinstance(node, Name) and node.id == ".":
            raise FormulaError(f"'.' is not supported in formula {self.formula!r}")
        if isinstance(node, UnaryOp) and node.op == "+":
            return self.encode(node.operand, parity)
        if isinstance(node, UnaryOp) and node.op == "-":
            self.encode(node.operand, not parity)
            return []
        if isinstance(node, Call) and node.func == "offset":
            if len(node.args) != 1:
                raise FormulaError(f"offset() takes one argument in formula {self.formula!r}")
            self.offsets.append(node.args[0])
            return []
        if isinstance(node, BinOp) and node.op in ("|", "||"):
            raise FormulaError(
                f"random-effects term {deparse(node)!r} must be in parentheses "
                f"in formula {self.formula!r}"
            )
        if isinstance(node, BinOp) and node.op in ("+", "-", ":", "*", "/", "%in%", "^"):
            return self._binary(node, parity)
        return [frozenset([self.variable(node)])]

    def _binary(self, node: BinOp, parity: bool) -> list[frozenset[int]]:
        op = node.op
        if op == "^":
            base = self.encode(node.left, parity)
            power = node.right.inner if isinstance(node.right, Paren) else node.right
            if not isinstance(power, Num) or power.value < 1 or power.value != int(power.value):
                raise FormulaError(
                    f"invalid power in {deparse(node)!r} in formula {self.formula!r}"
                )
            result = base
            for _ in range(int(power.value) - 1):
                result = _cross(base, result)  # R's PowerTerms: base outer, previous inner
            return result
        left = self.encode(node.left, parity)
        if op == "-":
            right = self.encode(node.right, not parity)
            return [t for t in left if t not in set(right)]
        right = self.encode(node.right, parity)
        if op == "+":
            return _dedupe(left + right)
        if op in (":", "%in%"):
            return _cross(left, right)
        if op == "*":
            return _dedupe(left + right + _cross(left, right))
        whole = frozenset().union(*left) if left else frozenset()
        return _dedupe(left + _cross([whole], right))  # "/"


def expand_terms(rhs: Node | None, formula: str) -> TermSpec:
    """Expand a bar-free right-hand side into R's ordered term list (``None`` means ``~ 1``)."""
    enc = _Encoder(formula)
    terms = enc.encode(rhs) if rhs is not None else []
    ordered = sorted(terms, key=len)  # stable: by degree, then appearance
    return TermSpec(
        variables=tuple(enc.nodes),
        labels=tuple(enc.labels),
        terms=tuple(tuple(sorted(t)) for t in ordered),
        intercept=enc.intercept,
        offsets=tuple(enc.offsets),
    )
