"""Tokenizer, parser and R-style deparser for model formulas.

The grammar is the part of R's expression grammar that formulas use, with R's operator precedence
(high to low): ``^`` (right-associative; ``**`` is read as ``^``), unary ``-``/``+``, ``:``,
``%op%``, ``*`` ``/``, binary ``+`` ``-``, comparisons, ``&``, ``|`` ``||``, ``~``.
Nodes are immutable; ``deparse`` prints them as R's ``deparse()`` does, which is what R uses to name
model-matrix columns (``I(x^2)``, ``log(x + 1)``, ``cbind(succ, fail)``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlmpipe.errors import FormulaError


@dataclass(frozen=True)
class Name:
    """A variable (data column) name."""

    id: str


@dataclass(frozen=True)
class Num:
    """A numeric literal."""

    value: float


@dataclass(frozen=True)
class Str:
    """A string literal (e.g. in ``I(sector == "Public")``)."""

    value: str


@dataclass(frozen=True)
class Call:
    """A function call ``func(args...)``."""

    func: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class BinOp:
    """A binary operator; ``op`` is one of ``~ | || & + - * / : ^ %in% < > <= >= == !=``."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class UnaryOp:
    """Unary ``-``, ``+`` or ``~`` (one-sided formula)."""

    op: str
    operand: Node


@dataclass(frozen=True)
class Paren:
    """Explicit parentheses, kept because R keeps them (they change deparsed names)."""

    inner: Node


Node = Name | Num | Str | Call | BinOp | UnaryOp | Paren

_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?L?)"
    r"|(?P<str>\"[^\"]*\"|'[^']*')"
    r"|(?P<name>`[^`]+`|[A-Za-z.][A-Za-z0-9._]*)"
    r"|(?P<op>\|\||\*\*|<=|>=|==|!=|%[^%]*%|&&|[~|&+\-*/:^(),<>!=])"
    r")"
)

# binding powers (left, right) for binary operators; right-assoc when right < left
_BINARY: dict[str, tuple[int, int]] = {
    "~": (10, 11),
    "|": (20, 21),
    "||": (20, 21),
    "&": (30, 31),
    "&&": (30, 31),
    "<": (40, 41),
    ">": (40, 41),
    "<=": (40, 41),
    ">=": (40, 41),
    "==": (40, 41),
    "!=": (40, 41),
    "+": (50, 51),
    "-": (50, 51),
    "*": (60, 61),
    "/": (60, 61),
    "%": (70, 71),  # any %op%
    ":": (80, 81),
    "^": (101, 100),
}
_UNARY_BP = 90  # unary minus/plus: below ^, above :


def _key(op: str) -> str:
    return "%" if op.startswith("%") and len(op) > 1 else op


def precedence(op: str) -> int:
    """R's precedence of a binary operator (higher binds tighter; ``+`` and ``-`` are 50)."""
    return _BINARY[_key(op)][0]


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise FormulaError(f"cannot parse formula {text!r} at position {pos}: {text[pos:]!r}")
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "op" and value == "**":
            value = "^"
        if kind == "name" and value.startswith("`"):
            value = value[1:-1]
        tokens.append((kind, value))
        pos = m.end()
    tokens.append(("end", ""))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.i]

    def next(self) -> tuple[str, str]:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def fail(self, what: str) -> FormulaError:
        return FormulaError(f"cannot parse formula {self.text!r}: {what}")

    def expect(self, value: str) -> None:
        kind, got = self.next()
        if got != value or kind != "op":
            raise self.fail(f"expected {value!r}, got {got or 'end of formula'!r}")

    def expr(self, min_bp: int = 0) -> Node:
        left = self.prefix()
        while True:
            kind, op = self.peek()
            if kind != "op":
                break
            if _key(op) not in _BINARY:
                break
            lbp, rbp = _BINARY[_key(op)]
            if lbp < min_bp:
                break
            self.next()
            self._no_empty_term(op)
            right = self.expr(rbp)
            left = BinOp(op, left, right)
        return left

    def _no_empty_term(self, op: str) -> None:
        """A binary operator followed by another one or the end: a term is missing (``x + + z``
        is a doubled ``+``; R would read the second as a unary plus, almost always a typo)."""
        kind, nxt = self.peek()
        if kind == "end":
            raise self.fail(f"empty term after the last {op!r} (a term is missing at the end)")
        if kind == "op" and (
            nxt in ("*", "/", ":", "^", "|", "||", ")", ",", "~") or (nxt == "+" and op == "+")
        ):
            what = f"a doubled {op!r}" if nxt == op else f"{op!r} followed by {nxt!r}"
            raise self.fail(f"empty term between {op!r} and {nxt!r} ({what}: a term is missing)")

    def argument(self) -> Node:
        """A call argument: an expression, or ``name = expression`` (a named argument, kept as
        ``BinOp("=", Name, value)``; used by ``mm(..., weights = cbind(w1, w2))``)."""
        node = self.expr()
        if self.peek() == ("op", "="):
            if not isinstance(node, Name):
                raise self.fail(f"a named argument needs a name before '=', got {deparse(node)!r}")
            self.next()
            self._no_empty_term("=")
            node = BinOp("=", node, self.expr())
        return node

    def prefix(self) -> Node:
        kind, value = self.next()
        if kind == "num":
            return Num(float(value.rstrip("L")))
        if kind == "str":
            return Str(value[1:-1])
        if kind == "name":
            if self.peek() == ("op", "("):
                self.next()
                args: list[Node] = []
                if self.peek() != ("op", ")"):
                    args.append(self.argument())
                    while self.peek() == ("op", ","):
                        self.next()
                        args.append(self.argument())
                self.expect(")")
                return Call(value, tuple(args))
            return Name(value)
        if kind == "op" and value == "(":
            inner = self.expr()
            self.expect(")")
            return Paren(inner)
        if kind == "op" and value in ("-", "+"):
            return UnaryOp(value, self.expr(_UNARY_BP))
        if kind == "op" and value == "~":
            return UnaryOp("~", self.expr(11))
        raise self.fail(f"unexpected {value or 'end of formula'!r}")


def parse_expr(text: str) -> Node:
    """Parse one R expression (a formula is an expression whose top operator is ``~``)."""
    parser = _Parser(text)
    node = parser.expr()
    if parser.peek()[0] != "end":
        raise parser.fail(f"unexpected {parser.peek()[1]!r}")
    return node


def _fmt_num(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.15g}"


_SPACED = {
    "~",
    "|",
    "||",
    "&",
    "&&",
    "<",
    ">",
    "<=",
    ">=",
    "==",
    "!=",
    "+",
    "-",
    "*",
    "=",
}  # R prints a/b, x^2, a:b unspaced


_SYNTACTIC = re.compile(r"(?:[A-Za-z]|\.(?![0-9]))[A-Za-z0-9._]*|\.")


def deparse(node: Node, backtick: bool = False) -> str:
    """Print a node as R's ``deparse()`` does (spaces around ``+ - *``, none around ``/ ^ :``).

    ``backtick=True`` quotes non-syntactic names (backticks) so that the text parses back
    (R's ``deparse`` of a formula); model-matrix column names use the bare names.
    """
    if isinstance(node, Name):
        if backtick and not _SYNTACTIC.fullmatch(node.id):
            return f"`{node.id}`"
        return node.id
    if isinstance(node, Num):
        return _fmt_num(node.value)
    if isinstance(node, Str):
        return f'"{node.value}"'
    if isinstance(node, Call):
        return f"{node.func}({', '.join(deparse(a, backtick) for a in node.args)})"
    if isinstance(node, Paren):
        return f"({deparse(node.inner, backtick)})"
    if isinstance(node, UnaryOp):
        if node.op == "~":
            return f"~{deparse(node.operand, backtick)}"
        return f"{node.op}{deparse(node.operand, backtick)}"
    left, right = deparse(node.left, backtick), deparse(_wrap_right(node), backtick)
    if node.op in _SPACED or node.op.startswith("%"):
        return f"{left} {node.op} {right}"
    return f"{left}{node.op}{right}"


def _wrap_right(node: BinOp) -> Node:
    """R's deparser parenthesises a right operand of equal precedence for left-assoc operators."""
    right = node.right
    if node.op == "=":  # a named argument: the value is printed as it is
        return right
    if isinstance(right, BinOp) and node.op != "^":
        if _BINARY[_key(right.op)][0] == _BINARY[_key(node.op)][0]:
            return Paren(right)
    return right


def walk_names(node: Node) -> list[str]:
    """Names of the variables an expression refers to, in order of first appearance."""
    out: list[str] = []

    def visit(n: Node) -> None:
        if isinstance(n, Name):
            if n.id not in out:
                out.append(n.id)
        elif isinstance(n, Call):
            for a in n.args:
                visit(a)
        elif isinstance(n, BinOp):
            if n.op != "=":  # the name of a named argument is not a variable
                visit(n.left)
            visit(n.right)
        elif isinstance(n, UnaryOp):
            visit(n.operand)
        elif isinstance(n, Paren):
            visit(n.inner)

    visit(node)
    return out
