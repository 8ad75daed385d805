"""R-side residual structures of a linear mixed model: AR(1), continuous-time AR(1), varIdent.

Model: ``y = X beta + Z b + e`` with ``e_i ~ N(0, sigma^2 R_i)`` for subject ``i`` and
``R_i = D_i C_i D_i``, where ``C_i`` is the residual correlation of the subject's occasions
(``ar1``: ``phi^|k - l|`` for integer occasions k, l, gaps allowed; ``car1``: ``phi^|t - s|`` for a
numeric time) and ``D_i = diag(delta_s)`` holds the standard-deviation ratios of the variance strata
(nlme's ``varIdent``: the first stratum has ratio 1). Pinheiro & Bates (2000), Mixed-Effects Models in
S and S-PLUS, secs. 5.2-5.3 (nlme's ``corAR1``, ``corCAR1``, ``varIdent``).

Estimation whitens each subject's rows with the inverse Cholesky factor ``L_i^{-1}`` of ``R_i``
(Pinheiro & Bates 2000, sec. 5.1; bidiagonal for these Markov correlations, see ``whiten``): for fixed residual parameters the whitened model is an ordinary
LMM with independent residuals, whose profiled (RE)ML deviance (Bates et al. 2015, J. Stat. Softw.
67(1)) plus ``log|R| = sum_i 2 log|L_i|`` is the deviance of the original model. Random-effects
terms must group whole subjects (nested designs) so that whitening keeps every row in one level of
each term. The optimizer works on theta and the unconstrained residual parameters together
(``phi = tanh(a)`` for ar1, ``phi = 1 / (1 + exp(-a))`` for car1, ``delta = exp(c)``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from mlmpipe.errors import DataValidationError, PlanError

_CORR = re.compile(r"^\s*(ar1|car1)\s*\(\s*~\s*([\w.]+)\s*\|\s*([\w.]+)\s*\)\s*$")
_VAR = re.compile(r"^\s*ident\s*\(\s*~\s*1\s*\|\s*([\w.]+)\s*\)\s*$")


@dataclass(frozen=True)
class ResidualSpec:
    """Parsed ``correlation`` (``"ar1(~ occ | id)"``, ``"car1(~ time | id)"``) and ``variance``
    (``"ident(~ 1 | occ)"``) strings; either may be None."""

    correlation: str | None = None  # "ar1" | "car1"
    time: str | None = None
    subject: str | None = None
    strata: str | None = None

    @classmethod
    def parse(cls, correlation: str | None, variance: str | None) -> ResidualSpec:
        kind = time = subject = strata = None
        if correlation is not None:
            m = _CORR.match(correlation)
            if m is None:
                raise PlanError(
                    f"correlation: {correlation!r} is not understood; allowed: "
                    "'ar1(~ occasion | subject)', 'car1(~ time | subject)'"
                )
            kind, time, subject = m.groups()
        if variance is not None:
            m = _VAR.match(variance)
            if m is None:
                raise PlanError(
                    f"variance: {variance!r} is not understood; allowed: 'ident(~ 1 | stratum)'"
                )
            strata = m.group(1)
        return cls(kind, time, subject, strata)

    @property
    def active(self) -> bool:
        return self.correlation is not None or self.strata is not None


class ResidualStructure:
    """The residual structure of a model on its rows: blocks by subject, parameters, whitening."""

    def __init__(
        self,
        spec: ResidualSpec,
        data: pd.DataFrame,
        rows: np.ndarray,
        weights: np.ndarray | None = None,
    ) -> None:
        """``weights``: observation weights of the rows (lme4's meaning, residual variance
        sigma^2 / w_i), combined as ``D_i = diag(delta_s / sqrt(w))`` (nlme's
        ``varComb(varFixed(~ 1/w), varIdent(...))``)."""
        self.spec = spec
        self.inv_sqrt_w = None if weights is None else 1.0 / np.sqrt(np.asarray(weights, float))
        sub = data.iloc[rows]
        n = len(rows)
        if spec.subject is not None:
            _need(sub, spec.subject, "correlation")
            subj = pd.factorize(sub[spec.subject], sort=False)[0]
            t = self._times(sub, spec)
        else:
            subj = np.arange(n)  # varIdent alone: independent rows
            t = np.zeros(n)
        self.subject_codes = subj
        if spec.strata is not None:
            _need(sub, spec.strata, "variance")
            col = sub[spec.strata]
            levels = (
                list(col.cat.categories)
                if isinstance(col.dtype, pd.CategoricalDtype)
                else sorted(pd.unique(col.dropna()))
            )
            # the reference stratum (ratio 1) is the first level (nlme's varIdent takes the first
            # stratum of its sorted data instead; per-stratum SDs sigma * ratio do not depend on it)
            self.strata_levels = [str(v) for v in levels]
            self.strata = pd.Categorical(col, categories=levels).codes.astype(int)
        else:
            self.strata_levels = []
            self.strata = np.zeros(n, int)
        self.t = t
        # each row after the first of its subject (in time order) and the row before it
        order = np.lexsort((t, subj))
        same = subj[order][1:] == subj[order][:-1]
        self.cur = order[1:][same]
        self.prev = order[:-1][same]
        self.gap = t[self.cur] - t[self.prev]
        if spec.correlation is not None and np.any(self.gap == 0):
            k = int(np.flatnonzero(self.gap == 0)[0])
            rows_k = sub.index[[self.prev[k], self.cur[k]]]
            who = sub[spec.subject].iloc[self.cur[k]]
            raise DataValidationError(
                f"correlation: duplicate occasions of {spec.time!r} within {spec.subject!r} "
                f"{_plain(who)!r} (rows {rows_k[0]!r} and {rows_k[1]!r})"
            )
        self.ncorr = 1 if spec.correlation is not None else 0
        self.nvar = max(len(self.strata_levels) - 1, 0)
        self.npar = self.ncorr + self.nvar

    @staticmethod
    def _times(sub: pd.DataFrame, spec: ResidualSpec) -> np.ndarray:
        _need(sub, spec.time, "correlation")
        col = sub[spec.time]
        if not pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
            raise DataValidationError(
                f"correlation: {spec.correlation} needs a numeric {spec.time!r} (got {col.dtype})"
            )
        t = col.to_numpy(float)
        if np.isnan(t).any():
            raise DataValidationError(f"correlation: {spec.time!r} has missing values")
        if spec.correlation == "ar1" and not np.all(t == np.round(t)):
            raise DataValidationError(
                f"correlation: ar1 needs an integer occasion index in {spec.time!r}; "
                "use car1 for a continuous time"
            )
        return t

    # ------------------------------------------------------------------ parameters
    def start(self) -> np.ndarray:
        return (
            np.zeros(self.npar)
            if self.spec.correlation != "car1"
            else np.r_[0.0, np.zeros(self.nvar)]
        )

    def phi(self, a: np.ndarray) -> float | None:
        if self.spec.correlation == "ar1":
            return float(np.tanh(a[0]))
        if self.spec.correlation == "car1":
            return float(1.0 / (1.0 + np.exp(-a[0])))
        return None

    def ratios(self, a: np.ndarray) -> np.ndarray:
        """Standard-deviation ratio per stratum (first 1)."""
        return np.r_[1.0, np.exp(a[self.ncorr :])]

    def describe(self, a: np.ndarray, cov: np.ndarray | None = None, level: float = 0.95) -> dict:
        """The artifact's ``residual`` entry. With ``cov``, the asymptotic covariance of ``a``
        (from the deviance Hessian), also SEs (delta method) and Wald intervals formed on the
        unconstrained scale and transformed back, as nlme's ``intervals(which = "var-cov")``
        (its scales 2 atanh(phi) for ar1, logit(phi) for car1 and log(ratio) for varIdent are
        affine in ours)."""
        z = float(special.ndtri(0.5 + level / 2))
        se = None if cov is None else np.sqrt(np.clip(np.diag(cov), 0.0, None))
        out: dict = {}
        if self.spec.correlation is not None:
            phi = self.phi(a)
            out |= {
                "correlation": self.spec.correlation,
                "time": self.spec.time,
                "subject": self.spec.subject,
                "phi": phi,
            }
            if se is not None:
                dphi = 1 - phi**2 if self.spec.correlation == "ar1" else phi * (1 - phi)
                lo, hi = (self.phi(np.r_[a[0] + s * z * se[0]]) for s in (-1.0, 1.0))
                out |= {"phi_se": float(dphi * se[0]), "phi_ci": [lo, hi]}
        if self.spec.strata is not None:
            r = self.ratios(a)
            out |= {
                "variance": "ident",
                "strata": self.spec.strata,
                "variance_ratios": dict(
                    zip(self.strata_levels, (float(v) for v in r), strict=True)
                ),
            }
            if se is not None:
                rows = list(
                    zip(self.strata_levels[1:], a[self.ncorr :], se[self.ncorr :], strict=True)
                )
                out["variance_ratio_se"] = {k: float(np.exp(c) * s) for k, c, s in rows}
                out["variance_ratio_ci"] = {
                    k: [float(np.exp(c - z * s)), float(np.exp(c + z * s))] for k, c, s in rows
                }
        if se is not None:
            out["level"] = level
        return out

    # ------------------------------------------------------------------ whitening
    def whiten(self, a: np.ndarray, M: np.ndarray) -> tuple[np.ndarray, float]:
        """``L^{-1} M`` (rows of ``M`` as the model's rows) and ``log|R|``.

        ``phi^|t - s|`` is the covariance of a Markov process, so the inverse Cholesky factor of
        ``C_i`` (occasions in time order) is bidiagonal: ``w_1 = u_1``,
        ``w_j = (u_j - r_j u_{j-1}) / sqrt(1 - r_j^2)`` with ``r_j = phi^(t_j - t_{j-1})``
        (gaps included), and ``log|C_i| = sum_j log(1 - r_j^2)``; ``u = D^{-1} M`` takes out the
        varIdent ratios (``R = D C D``)."""
        phi = self.phi(a)
        sd = self.ratios(a)[self.strata]
        if self.inv_sqrt_w is not None:
            sd = sd * self.inv_sqrt_w
        U = M / sd[:, None]
        logdet = 2.0 * float(np.sum(np.log(sd)))
        if phi is None or self.cur.size == 0:
            return U, logdet
        r = phi**self.gap
        c = np.sqrt(1.0 - r * r)
        out = U.copy()
        out[self.cur] = (U[self.cur] - r[:, None] * U[self.prev]) / c[:, None]
        return out, logdet + 2.0 * float(np.sum(np.log(c)))


def _need(df: pd.DataFrame, col: str | None, key: str) -> None:
    if col not in df.columns:
        raise DataValidationError(f"{key}: column {col!r} is not in the data")


def _plain(value):
    """A numpy scalar as its Python value (``3``, not ``np.int64(3)``, in messages)."""
    return value.item() if isinstance(value, np.generic) else value
