"""``render``: a ``FormulaSpec`` back to lme4 syntax, for display and for the ``formula`` of artifacts.

The text is R's ``deparse`` of the formula as written (``FormulaSpec.rhs``): operands joined by
`` + ``/`` - ``, a bar as ``(lhs | g)`` or ``(lhs || g)`` (one bar, not lme4's expansion), names
that are not syntactic in backticks. ``parse_formula(render(spec))`` has the same response, fixed
terms, random terms and operands as ``spec``, so it builds the same design.
"""

from __future__ import annotations

from mlmpipe.formula.parse import BinOp, Node, Paren, UnaryOp, deparse, precedence
from mlmpipe.formula.spec import Addend, Bar, FormulaSpec

_PLUS_BP = precedence("+")


def _operand(node: Node | Bar, alone: bool) -> str:
    if isinstance(node, Bar):
        return render_bar(node)
    if not alone and isinstance(node, BinOp) and precedence(node.op) <= _PLUS_BP:
        node = Paren(node)  # an operand that binds less tightly than the chain's + / -
    elif isinstance(node, UnaryOp) and node.op == "-" and isinstance(node.operand, BinOp):
        node = UnaryOp("-", Paren(node.operand))  # -(x:z), not (-x):z
    return deparse(node, backtick=True)


def render_addends(parts: tuple[Addend, ...]) -> str:
    """`` + ``/`` - `` chain of operands (``1`` when there are none)."""
    if not parts:
        return "1"
    alone = len(parts) == 1
    out = _operand(parts[0].node, alone)
    for a in parts[1:]:
        out += f" {a.op} {_operand(a.node, alone)}"
    return out


def render_bar(bar: Bar) -> str:
    """``(lhs | group)`` or ``(lhs || group)``."""
    op = "||" if bar.double else "|"
    return f"({render_addends(bar.lhs)} {op} {deparse(bar.group, backtick=True)})"


def render_parts(response: Node | None, rhs: tuple[Addend, ...]) -> str:
    """The lme4 formula ``response ~ rhs`` (one-sided ``~rhs`` without a response)."""
    if response is None:
        return f"~{render_addends(rhs)}"
    return f"{deparse(response, backtick=True)} ~ {render_addends(rhs)}"


def render(spec: FormulaSpec) -> str:
    """lme4 syntax of ``spec`` (``spec.formula`` keeps the text as given or as edited)."""
    return render_parts(spec.response, spec.rhs)
