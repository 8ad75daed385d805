"""Evaluate formula expressions on a data frame (R's ``model.frame`` step).

A variable evaluates to either a float array (numeric; NaN = NA) or a ``Factor``.
Factors follow R's ``factor()``: a pandas ``Categorical`` keeps its category order; other
non-numeric columns get their sorted unique values as levels (code-point order, i.e. R in the C
locale); ``bool`` columns are logical (levels ``FALSE``, ``TRUE``); ``factor(x)`` of a numeric
column sorts numerically. Level labels are strings formatted as R's ``as.character`` would
(``2``, not ``2.0``).

Stateful transforms (``scale()``) record their parameters in ``state`` on the fitting data and reuse
them on new data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlmpipe.errors import FormulaError
from mlmpipe.formula.parse import BinOp, Call, Name, Node, Num, Paren, Str, UnaryOp, deparse


@dataclass(frozen=True)
class Factor:
    """A categorical variable: 0-based ``codes`` (-1 = NA) into ``levels`` (R labels)."""

    codes: np.ndarray
    levels: tuple[str, ...]
    ordered: bool = False
    logical: bool = False

    def take(self, rows: np.ndarray) -> Factor:
        return Factor(self.codes[rows], self.levels, self.ordered, self.logical)

    def drop_unused(self) -> Factor:
        """R's ``droplevels``: keep only levels that occur, in their original order."""
        used = np.zeros(len(self.levels), dtype=bool)
        used[self.codes[self.codes >= 0]] = True
        if used.all():
            return self
        remap = np.cumsum(used) - 1
        codes = np.where(self.codes >= 0, remap[self.codes], -1)
        levels = tuple(lv for lv, u in zip(self.levels, used, strict=True) if u)
        return Factor(codes.astype(np.int64), levels, self.ordered, self.logical)

    def recode(self, levels: tuple[str, ...]) -> Factor:
        """Express the factor in the given (fitted) levels; unknown levels become -1."""
        index = {lv: i for i, lv in enumerate(levels)}
        remap = np.array([index.get(lv, -1) for lv in self.levels] + [-1], dtype=np.int64)
        return Factor(remap[self.codes], levels, self.ordered, self.logical)


Value = np.ndarray | Factor


def r_label(value: object) -> str:
    """A level label as R's ``as.character`` prints it (``1224``, ``2.5``, ``TRUE``)."""
    if isinstance(value, bool | np.bool_):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        v = float(value)
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return f"{v:.15g}"
    return str(value)


def _labels(values: object) -> tuple[str, ...]:
    return tuple(r_label(v) for v in values)


def factor_from_series(s: pd.Series | np.ndarray) -> Factor:
    """Convert a column to a factor as R's ``factor()`` would."""
    s = pd.Series(s) if not isinstance(s, pd.Series) else s
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes = s.cat.codes.to_numpy().astype(np.int64)
        return Factor(codes, _labels(s.cat.categories), ordered=bool(s.cat.ordered))
    if pd.api.types.is_bool_dtype(s.dtype):
        arr = s.to_numpy(dtype=float, na_value=np.nan)
        codes = np.where(np.isnan(arr), -1, arr).astype(np.int64)
        return Factor(codes, ("FALSE", "TRUE"), logical=True)
    try:
        codes, uniques = pd.factorize(s, sort=True)
    except TypeError:  # mixed types: sort as strings
        codes, uniques = pd.factorize(s.astype("string"), sort=True)
    return Factor(codes.astype(np.int64), _labels(uniques))


def _as_factor(value: Value) -> Factor:
    return value if isinstance(value, Factor) else factor_from_series(value)


def _column(data: pd.DataFrame, name: str, formula: str) -> Value:
    if name not in data.columns:
        raise FormulaError(f"unknown column {name!r} in formula {formula!r}")
    s = data[name]
    if pd.api.types.is_bool_dtype(s.dtype) or not pd.api.types.is_numeric_dtype(s.dtype):
        return factor_from_series(s)
    return s.to_numpy(dtype=np.float64, na_value=np.nan)


def _numeric(value: Value | float, where: str, formula: str) -> np.ndarray | float:
    if isinstance(value, Factor):
        if value.logical:
            return np.where(value.codes < 0, np.nan, value.codes.astype(float))
        raise FormulaError(f"non-numeric argument in {where!r} in formula {formula!r}")
    return value


def _scale(x: np.ndarray, key: str, state: dict, fitting: bool) -> np.ndarray:
    if fitting:
        center = float(np.nanmean(x))
        scale = float(np.nanstd(x, ddof=1))
        state[key] = (center, scale)
    center, scale = state[key]
    return (x - center) / scale


_FUNCS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "log": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "log1p": np.log1p,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "as.numeric": np.asarray,
}
_ARITH = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.divide,
    "^": np.power,
}
_COMPARE = {
    "<": np.less,
    ">": np.greater,
    "<=": np.less_equal,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}


class Evaluator:
    """Evaluates expressions on one data frame; ``fitting`` says whether to learn state."""

    def __init__(self, data: pd.DataFrame, formula: str, state: dict, fitting: bool) -> None:
        self.data = data
        self.formula = formula
        self.state = state
        self.fitting = fitting
        self.n = len(data)

    def __call__(self, node: Node) -> Value:
        value = self.eval(node)
        if isinstance(value, float | int | str):
            if isinstance(value, str):
                raise FormulaError(f"string {value!r} is not a variable in {self.formula!r}")
            value = np.full(self.n, float(value))
        return value

    def eval(self, node: Node) -> Value | float | str:
        if isinstance(node, Name):
            return _column(self.data, node.id, self.formula)
        if isinstance(node, Num):
            return node.value
        if isinstance(node, Str):
            return node.value
        if isinstance(node, Paren):
            return self.eval(node.inner)
        if isinstance(node, UnaryOp) and node.op in "+-":
            x = _numeric(self.eval(node.operand), deparse(node), self.formula)
            return -x if node.op == "-" else x
        if isinstance(node, BinOp):
            return self._binary(node)
        if isinstance(node, Call):
            return self._call(node)
        raise FormulaError(f"cannot evaluate {deparse(node)!r} in formula {self.formula!r}")

    def _binary(self, node: BinOp) -> Value | float:
        where = deparse(node)
        if node.op in _COMPARE:
            left, right = self.eval(node.left), self.eval(node.right)
            if isinstance(left, Factor) or isinstance(right, Factor):
                if not isinstance(left, Factor) or not isinstance(right, str):
                    raise FormulaError(f"unsupported comparison {where!r} in {self.formula!r}")
                na = left.codes < 0
                labels = np.array(left.levels + ("",), dtype=object)[left.codes]
                result = _COMPARE[node.op](labels, right).astype(float)
            else:
                na = np.isnan(np.asarray(left, float) + np.asarray(right, float))
                with np.errstate(all="ignore"):
                    result = _COMPARE[node.op](left, right).astype(float)
            result = np.broadcast_to(result, (self.n,)).copy()
            result[np.broadcast_to(na, (self.n,))] = np.nan
            return Factor(
                np.where(np.isnan(result), -1, result).astype(np.int64),
                ("FALSE", "TRUE"),
                logical=True,
            )
        if node.op not in _ARITH:
            raise FormulaError(f"unsupported operator in {where!r} in formula {self.formula!r}")
        left = _numeric(self.eval(node.left), where, self.formula)
        right = _numeric(self.eval(node.right), where, self.formula)
        with np.errstate(all="ignore"):
            return _ARITH[node.op](left, right)

    def _call(self, node: Call) -> Value:
        where = deparse(node)
        if node.func == "cbind":
            cols = [_numeric(self(a), where, self.formula) for a in node.args]
            return np.column_stack(cols).astype(np.float64)
        if len(node.args) != 1:
            raise FormulaError(f"{node.func}() takes one argument in {where!r} ({self.formula!r})")
        arg = node.args[0]
        if node.func in ("factor", "as.factor"):
            return _as_factor(self(arg))
        if node.func == "I":
            return self.eval(arg)
        if node.func == "offset":
            return _numeric(self(arg), where, self.formula)
        if node.func == "scale":
            x = _numeric(self(arg), where, self.formula)
            return _scale(np.asarray(x, float), where, self.state, self.fitting)
        if node.func in _FUNCS:
            x = _numeric(self.eval(arg), where, self.formula)
            with np.errstate(all="ignore"):
                return _FUNCS[node.func](x)
        raise FormulaError(f"unsupported function {node.func}() in formula {self.formula!r}")


def missing(value: Value) -> np.ndarray:
    """Boolean mask of NA entries (NaN or factor code -1), per row."""
    if isinstance(value, Factor):
        return value.codes < 0
    if value.ndim == 2:
        return np.isnan(value).any(axis=1)
    return np.isnan(value)
