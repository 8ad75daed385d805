"""``build_design`` (lme4's ``lFormula`` data step) and ``new_data_matrices`` for prediction.

Semantics (R/lme4):

* Every variable is evaluated on the whole data first (``model.frame``), then rows with an NA/NaN
  in any used variable are dropped (``na.omit``); ``Design.rows`` holds the kept positions.
  ``scale(x)`` therefore uses all non-missing values of ``x``.
* Unused factor levels are dropped after NA removal (``drop.unused.levels = TRUE``); logicals always
  keep both levels ``FALSE``/``TRUE``.
* ±inf in a used numeric column (or an evaluated variable) is an error, as R's ``lm``/``lmer``.
* A factor response (GLMM) is 0 for its first level and 1 otherwise (R's binomial convention).
  ``Design.y_factor`` keeps it as a factor with all its levels (ordinal responses).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd

from mlmpipe.errors import FormulaError
from mlmpipe.formula.evaluate import Evaluator, Factor, Value, factor_from_series, missing
from mlmpipe.formula.fixed import model_matrix
from mlmpipe.formula.membership import evaluate_membership, membership_term
from mlmpipe.formula.parse import Node, walk_names
from mlmpipe.formula.random import GroupState, fit_group, new_group_codes
from mlmpipe.formula.spec import FormulaSpec, RandomSpec, parse_formula
from mlmpipe.formula.terms import Design, ReTerm


@dataclass(frozen=True, eq=False)
class FittedFormula:
    """A ``FormulaSpec`` plus what was learned from the fitting data (stored in ``Design.spec``).

    Attributes:
        formula: the parsed formula.
        factors: each factor-valued variable (levels, ordered/logical flags; no codes), by R label.
        transforms: parameters of stateful transforms (``scale()``: centre, scale), by R label.
        groups: learned grouping-factor state, one per random-effects term.
        fixed_assign: term index of each column of X (0 = intercept), as R's ``assign``.
    """

    formula: FormulaSpec
    factors: Mapping[str, Factor]
    transforms: Mapping[str, tuple[float, float]]
    groups: tuple[GroupState, ...]
    fixed_assign: tuple[int, ...]


def _as_spec(formula: str | FormulaSpec) -> FormulaSpec:
    return formula if isinstance(formula, FormulaSpec) else parse_formula(formula)


def _check_columns(spec: FormulaSpec, data: pd.DataFrame) -> None:
    if not isinstance(data, pd.DataFrame):
        raise FormulaError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    absent = sorted(spec.variables - set(map(str, data.columns)))
    if absent:
        cols = ", ".join(repr(c) for c in absent)
        raise FormulaError(f"unknown column {cols} in formula {spec.formula!r}")


def _check_inf(spec: FormulaSpec, data: pd.DataFrame) -> None:
    for name in sorted(spec.variables):
        s = data[name]
        if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            if np.isinf(s.to_numpy(dtype=np.float64, na_value=np.nan)).any():
                raise FormulaError(
                    f"column {name!r} has infinite values (formula {spec.formula!r})"
                )


def _model_nodes(spec: FormulaSpec) -> dict[str, Node]:
    """Variables of the fixed part and of every random-effects left-hand side, by R label."""
    nodes: dict[str, Node] = {}
    for terms in [spec.fixed] + [r.lhs for r in spec.random]:
        for label, node in zip(terms.labels, terms.variables, strict=True):
            nodes.setdefault(label, node)
    return nodes


def _as_factor(value: Value) -> Factor:
    return value if isinstance(value, Factor) else factor_from_series(value)


def _response(value: Value) -> np.ndarray:
    if isinstance(value, Factor):
        return (value.codes > 0).astype(np.float64)
    return np.asarray(value, dtype=np.float64)


def _offset(values: list[Value]) -> np.ndarray | None:
    if not values:
        return None
    return np.sum([np.asarray(v, dtype=np.float64) for v in values], axis=0)


def build_design(formula: str | FormulaSpec, data: pd.DataFrame) -> Design:
    """Evaluate an lme4 formula on ``data``: response, X, random-effects terms, offset, rows."""
    spec = _as_spec(formula)
    _check_columns(spec, data)
    _check_inf(spec, data)
    transforms: dict[str, tuple[float, float]] = {}
    ev = Evaluator(data, spec.formula, transforms, fitting=True)
    values = {label: ev(node) for label, node in _model_nodes(spec).items()}
    # a membership term's IDs may be missing in a slot (no membership there): not a missing row
    leaves = [
        [_as_factor(ev(leaf)) for leaf in r.leaves] if r.membership is None else []
        for r in spec.random
    ]
    response = ev(spec.response) if spec.response is not None else None
    offsets = [ev(node) for node in spec.fixed.offsets]

    everything = list(values.values()) + [f for fs in leaves for f in fs] + offsets
    if response is not None:
        everything.append(response)
    na = np.zeros(len(data), dtype=bool)
    for value in everything:
        na |= missing(value)
    rows = np.flatnonzero(~na)
    n = len(rows)

    def take(value: Value) -> Value:
        if isinstance(value, Factor):
            f = value.take(rows)
            return f if f.logical else f.drop_unused()
        return value[rows]

    values = {label: take(v) for label, v in values.items()}
    for label, value in values.items():
        if not isinstance(value, Factor) and np.isinf(value).any():
            raise FormulaError(
                f"variable {label!r} has infinite values in formula {spec.formula!r}"
            )
    X, fixed_names, assign = model_matrix(spec.fixed, values, n)
    re_terms, groups = [], []
    for r, fs in zip(spec.random, leaves, strict=True):
        Z, names, _ = model_matrix(r.lhs, values, n)
        if r.membership is not None:
            term, state = _membership_term(r, data.iloc[rows], Z, names, spec.formula)
            groups.append(state)
            re_terms.append(term)
            continue
        codes, state = fit_group([f.take(rows) for f in fs], r.group_name, spec.formula)
        groups.append(state)
        re_terms.append(ReTerm(r.group_name, codes, state.levels, names, Z))
    y = _response(take(response)) if response is not None else np.empty(0)
    y_factor = response.take(rows) if isinstance(response, Factor) else None
    fitted = FittedFormula(
        formula=spec,
        factors=MappingProxyType(
            {k: v.take(rows[:0]) for k, v in values.items() if isinstance(v, Factor)}
        ),
        transforms=MappingProxyType(dict(transforms)),
        groups=tuple(groups),
        fixed_assign=assign,
    )
    return Design(
        y=y,
        X=X,
        fixed_names=fixed_names,
        re_terms=tuple(re_terms),
        offset=_offset([take(o) for o in offsets]),
        rows=rows,
        formula=spec.formula,
        response=spec.response_name,
        spec=fitted,
        y_factor=y_factor,
    )


def _membership_term(
    r: RandomSpec, data: pd.DataFrame, Z: np.ndarray, names: tuple[str, ...], formula: str
) -> tuple[ReTerm, GroupState]:
    """The ``ReTerm`` of a multiple-membership term on the model rows ``data``."""
    codes, weights, levels = evaluate_membership(r.membership, data, r.group_name, formula)
    primary, levels, membership = membership_term(codes, weights, levels)
    if len(levels) < 2:
        raise FormulaError(
            f"grouping factor {r.group_name!r} must have > 1 sampled level "
            f"(has {len(levels)}) in formula {formula!r}"
        )
    state = GroupState((levels,), np.arange(len(levels), dtype=np.int64), levels)
    return ReTerm(r.group_name, primary, levels, names, Z, membership), state


def _recode_fixed(label: str, value: Value, fitted: Factor, formula: str) -> Factor:
    f = _as_factor(value)
    new = f.recode(fitted.levels)
    unseen = (new.codes < 0) & (f.codes >= 0)
    if unseen.any():
        bad = sorted({f.levels[c] for c in f.codes[unseen]})
        raise FormulaError(
            f"factor {label!r} has new levels {', '.join(bad)} not seen in fitting ({formula!r})"
        )
    return Factor(new.codes, fitted.levels, fitted.ordered, fitted.logical)


def new_data_matrices(
    design: Design, newdata: pd.DataFrame
) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray], np.ndarray | None]:
    """Model matrices for new data with the levels, contrasts and transforms learned at fit time.

    Returns ``(X_new, codes_new, Z_new, offset_new)``: ``codes_new[i]`` indexes the fitted levels of
    random-effects term ``i`` (-1 for a level not seen in fitting or a missing ID); rows are not
    dropped: a missing covariate gives NaN in its columns. A new level of a fixed-effects factor
    is an error (as R's ``predict``). The response is not needed.
    """
    fitted = design.spec
    if not isinstance(fitted, FittedFormula):
        raise FormulaError("design was not built by mlmpipe.formula.build_design")
    spec = fitted.formula
    needed = set(_columns_for_prediction(spec))
    absent = sorted(needed - set(map(str, newdata.columns)))
    if absent:
        cols = ", ".join(repr(c) for c in absent)
        raise FormulaError(f"unknown column {cols} in formula {spec.formula!r}")
    ev = Evaluator(newdata, spec.formula, dict(fitted.transforms), fitting=False)
    n = len(newdata)
    values: dict[str, Value] = {}
    for label, node in _model_nodes(spec).items():
        value = ev(node)
        if label in fitted.factors:
            value = _recode_fixed(label, value, fitted.factors[label], spec.formula)
        values[label] = value
    X, _, _ = model_matrix(spec.fixed, values, n)
    codes, Zs = [], []
    for r, state in zip(spec.random, fitted.groups, strict=True):
        if r.membership is not None:
            raise FormulaError(
                f"predictions for new data are not available with the multiple-membership term "
                f"{r.group_name!r} yet (formula {spec.formula!r})"
            )
        leaves = [_as_factor(ev(leaf)) for leaf in r.leaves]
        codes.append(new_group_codes(leaves, state))
        Zs.append(model_matrix(r.lhs, values, n)[0])
    offset = _offset([ev(node) for node in spec.fixed.offsets])
    return X, codes, Zs, offset


def _columns_for_prediction(spec: FormulaSpec) -> set[str]:
    names = set(spec.fixed.columns)
    for r in spec.random:
        names |= r.lhs.columns
        for leaf in r.leaves:
            names.update(walk_names(leaf))
    return names
