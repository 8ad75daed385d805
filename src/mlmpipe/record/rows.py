"""Typed rows of a fit record: fixed effects, variance components, thresholds, conditional modes.

The field names are the columns of the stored tables (lme4's ``coef(summary(m))`` and
``as.data.frame(VarCorr(m))``); optional fields are present only where the fit has them (GLMM
``z`` and exponentiated effects, Rubin-pooling columns) and are omitted from the JSON when None.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

#: JSON key of a field whose name is a Python keyword
_JSON_NAME = {"lambda_": "lambda"}
_FIELD_NAME = {v: k for k, v in _JSON_NAME.items()}


def _row_to_dict(row: Any, always: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(row):
        v = getattr(row, f.name)
        if v is None and f.name not in always:
            continue
        out[_JSON_NAME.get(f.name, f.name)] = v
    return out


def _row_kwargs(cls: type, d: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    kw = {}
    for k, v in d.items():
        name = _FIELD_NAME.get(k, k)
        if name not in names:
            raise KeyError(f"{cls.__name__}: unknown column {k!r}")
        kw[name] = v
    return kw


@dataclass(frozen=True)
class FixedEffect:
    """One fixed-effect row: estimate, SE, df (None for Wald z), t (= z for GLMMs), p, Wald CI.

    GLMM rows add ``z`` and, for logit/log links, ``exp_*`` (odds or rate ratios); Rubin-pooled
    rows add ``dfcom``, ``ubar`` (within), ``b`` (between), ``riv``, ``lambda_`` and ``fmi``
    (Rubin 1987; Barnard & Rubin 1999)."""

    term: str
    estimate: float | None = None
    se: float | None = None
    df: float | None = None
    t: float | None = None
    p: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    z: float | None = None
    exp_estimate: float | None = None
    exp_ci_low: float | None = None
    exp_ci_high: float | None = None
    dfcom: float | None = None
    ubar: float | None = None
    b: float | None = None
    riv: float | None = None
    lambda_: float | None = None
    fmi: float | None = None

    _ALWAYS = ("term", "estimate", "se", "df", "t", "p", "ci_low", "ci_high")

    def to_dict(self) -> dict[str, Any]:
        return _row_to_dict(self, self._ALWAYS)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FixedEffect:
        return cls(**_row_kwargs(cls, d))

    @property
    def statistic(self) -> float | None:
        """The Wald statistic (z for GLMMs, t otherwise)."""
        return self.z if self.z is not None else self.t


@dataclass(frozen=True)
class VarCorr:
    """One row of ``as.data.frame(VarCorr(m))``: a variance (``term2`` None; ``sdcor`` its SD) or a
    covariance (``sdcor`` the correlation); group ``"Residual"`` is sigma^2. Pooled rows carry the
    pooling scale, the between-imputation variance and the number of boundary imputations."""

    group: str
    term1: str | None
    term2: str | None
    vcov: float
    sdcor: float | None
    pooling_scale: str | None = None
    between: float | None = None
    boundary_imputations: int | None = None

    _ALWAYS = ("group", "term1", "term2", "vcov", "sdcor")

    @property
    def is_variance(self) -> bool:
        return self.term2 is None

    def to_dict(self) -> dict[str, Any]:
        return _row_to_dict(self, self._ALWAYS)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VarCorr:
        return cls(**_row_kwargs(cls, d))


@dataclass(frozen=True)
class Threshold:
    """An ordinal threshold ``alpha_j`` named ``"j|j+1"`` with its delta-method SE (clmm's)."""

    term: str
    estimate: float | None = None
    se: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"term": self.term, "estimate": self.estimate, "se": self.se}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Threshold:
        return cls(**_row_kwargs(cls, d))


@dataclass(frozen=True, eq=False)
class RanefBlock:
    """Conditional modes of one grouping factor (lme4's ``ranef(m)[[g]]``): ``values`` is
    (levels x terms); ``condsd`` their conditional SDs (``condVar``), None when not computed."""

    levels: tuple[str, ...]
    terms: tuple[str, ...]
    values: np.ndarray
    condsd: np.ndarray | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RanefBlock):
            return NotImplemented
        same_sd = (self.condsd is None and other.condsd is None) or (
            self.condsd is not None
            and other.condsd is not None
            and np.array_equal(self.condsd, other.condsd)
        )
        return (
            self.levels == other.levels
            and self.terms == other.terms
            and np.array_equal(self.values, other.values)
            and same_sd
        )

    def column(self, term: str) -> np.ndarray:
        return self.values[:, self.terms.index(term)]
