"""``FitRecord``: the one artifact of a fitted model (LMM, GLMM, cumulative-link; one imputation or
Rubin-pooled), and its versioned on-disk form.

A record holds what a consumer needs without refitting or re-parsing text: the parsed formula
(``FormulaSpec``), the family (:class:`ModelFamily`), the estimator, theta, beta, sigma, the
covariance of beta, the fixed-effects and variance-component tables, N per level, the optimizer
summary, the conditional modes, the convergence-ladder decisions and every warning.
:func:`mlmpipe.record.restore` gives back an engine model at the stored parameters.

On disk (schema ``mlmpipe.FitRecord/1``): ``X.json`` with the summary (the fit-table layout of
lme4-style results, plus ``schema`` and ``arrays``) and ``X.npz`` beside it with the arrays
(``theta``, ``beta``, ``vcov``, ``extra``, ``ranef/<group>/values`` and ``.../condsd``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlmpipe.engine.optimize import OptSummary
from mlmpipe.formula import FormulaSpec, build_design, parse_formula
from mlmpipe.formula.terms import Design
from mlmpipe.paths import arrays_path as _paths_arrays_path
from mlmpipe.record.family import ModelFamily
from mlmpipe.record.rows import FixedEffect, RanefBlock, Threshold, VarCorr

SCHEMA = "mlmpipe.FitRecord/1"
#: summary keys written only for non-gaussian fits
_GLMM_KEYS = ("family", "link", "nagq", "dispersion", "thresholds", "icc", "icc_scale")


@dataclass(frozen=True)
class Pooling:
    """How a record combines fits across imputations: ``identity`` (one data set) or ``rubin``
    (Rubin 1987 with Barnard-Rubin df); ``loglik_imputations`` keeps each imputation's
    log-likelihood for the D2 likelihood-ratio test (Li, Meng, Raghunathan & Rubin 1991) and
    ``icc`` each grouping factor's ICC pooled on the logit scale."""

    method: str
    m: int
    notes: Mapping[str, Any] = field(default_factory=dict, hash=False)
    loglik_imputations: tuple[float, ...] = ()
    icc: Mapping[str, Mapping[str, Any]] | None = field(default=None, hash=False)

    @property
    def rubin(self) -> bool:
        return self.method == "rubin"

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "m": self.m, **dict(self.notes)}


@dataclass(frozen=True, eq=False)
class FitRecord:
    """A fitted model (see the module docstring). Build with
    :func:`mlmpipe.record.record_from_result` (engine result), :meth:`from_dict` / :meth:`load`
    (stored), or :func:`mlmpipe.missing.pool.pool_fits`."""

    formula: FormulaSpec
    fixed: tuple[FixedEffect, ...]
    random: tuple[VarCorr, ...]
    estimator: str = "reml"
    family: ModelFamily = field(default_factory=ModelFamily)
    backend: str = "mlmpipe"
    model: str | None = None
    planned_formula: str | None = None
    nobs: int | None = None
    ngroups: Mapping[str, int] = field(default_factory=dict)
    loglik: float | None = None
    aic: float | None = None
    bic: float | None = None
    deviance: float | None = None
    npar: int | None = None
    sigma: float | None = None
    theta: np.ndarray | None = None
    beta: np.ndarray | None = None
    vcov: np.ndarray | None = None
    extra: np.ndarray | None = None
    converged: bool = True
    singular: bool = False
    warnings: tuple[str, ...] = ()
    dropped_columns: tuple[str, ...] = ()
    optimizer: OptSummary | None = None
    df_method: str | None = None
    ranef: Mapping[str, RanefBlock] = field(default_factory=dict)
    thresholds: tuple[Threshold, ...] | None = None
    icc: Mapping[str, float] | None = None
    level1_variance: float | None = None
    ladder: Mapping[str, Any] | None = None
    pooling: Pooling | None = None
    # observation weights column (lme4's meaning; "<array>": values given to mlmpipe.fit)
    weights: str | None = None
    # the R-side residual structure's parameters (engine/residual.py ``describe``): correlation,
    # time, subject, phi (+ phi_se, phi_ci), variance, strata, variance_ratios (+ SEs, CIs)
    residual: Mapping[str, Any] | None = None
    # Bayesian modal estimation (engine/priors.py): the prior as planned (``prior=`` of
    # mlmpipe.fit) and its description; None: a likelihood fit
    prior: Any = None
    prior_description: str | None = None

    # ------------------------------------------------------------- basics
    @property
    def reml(self) -> bool:
        return self.estimator == "reml"

    @property
    def method(self) -> str:
        """``bayes_modal`` for a posterior-mode fit under a prior, else ``likelihood``."""
        return "bayes_modal" if self.prior is not None or self.prior_description else "likelihood"

    @property
    def correlation(self) -> str | None:
        """The ``correlation=`` string of the fit (``"ar1(~ occ | id)"``), None without one."""
        r = self.residual or {}
        if r.get("correlation") is None:
            return None
        return f"{r['correlation']}(~ {r['time']} | {r['subject']})"

    @property
    def variance_function(self) -> str | None:
        """The ``variance=`` string of the fit (``"ident(~ 1 | occ)"``), None without one."""
        r = self.residual or {}
        return None if r.get("strata") is None else f"ident(~ 1 | {r['strata']})"

    def fit_options(self) -> dict[str, Any]:
        """Keyword arguments of ``mlmpipe.fit`` that refit this model (family, weights,
        residual structure, prior; only those set), for refits on other data."""
        out = dict(self.family.fit_options())
        if self.weights is not None and self.weights != "<array>":
            out["weights"] = self.weights
        if self.correlation is not None:
            out["correlation"] = self.correlation
        if self.variance_function is not None:
            out["variance"] = self.variance_function
        if self.prior is not None:
            out["prior"] = self.prior
        return out

    @property
    def formula_text(self) -> str:
        """The formula in lme4 syntax (for display)."""
        return self.formula.formula

    @property
    def label(self) -> str:
        """The plan's model name, or the formula when the fit is not part of a plan."""
        return self.model if self.model is not None else self.formula_text

    @property
    def is_pooled(self) -> bool:
        """Rubin-pooled over imputations (no single data set reproduces its estimates)."""
        return self.pooling is not None and self.pooling.rubin

    @property
    def fixed_terms(self) -> tuple[str, ...]:
        return tuple(r.term for r in self.fixed)

    def fixed_effect(self, term: str) -> FixedEffect:
        for r in self.fixed:
            if r.term == term:
                return r
        raise KeyError(f"{self.label}: no fixed effect {term!r}; terms are {self.fixed_terms}")

    def fixed_frame(self) -> pd.DataFrame:
        return pd.DataFrame([r.to_dict() for r in self.fixed])

    def random_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [r.to_dict() for r in self.random],
            columns=["group", "term1", "term2", "vcov", "sdcor"],
        )

    def variances(self) -> tuple[VarCorr, ...]:
        """Variance rows (not covariances), residual included."""
        return tuple(r for r in self.random if r.is_variance)

    def covariance_matrices(self) -> dict[str, tuple[list[str], np.ndarray]]:
        """``{group: (term names, Sigma_g)}``: each grouping factor's random-effects covariance
        matrix from the variance-component rows (the residual row is skipped)."""
        names: dict[str, list[str]] = {}
        for r in self.random:
            if r.group != "Residual" and r.is_variance:
                names.setdefault(r.group, []).append(r.term1)
        out: dict[str, tuple[list[str], np.ndarray]] = {}
        for g, nm in names.items():
            S = np.zeros((len(nm), len(nm)))
            for r in self.random:
                if r.group == g:
                    a = nm.index(r.term1)
                    b = a if r.is_variance else nm.index(r.term2)
                    S[a, b] = S[b, a] = float(r.vcov)
            out[g] = (nm, S)
        return out

    def variance_components(self) -> dict[str, float]:
        """``{group: random-intercept variance, ..., "Residual": sigma^2}``; for a non-gaussian fit
        the residual is the latent-scale level-1 variance (pi^2/3 for logit; Snijders & Bosker
        2012, sec. 17.3)."""
        out = {
            r.group: float(r.vcov)
            for r in self.random
            if r.is_variance and (r.group == "Residual" or r.term1 == "(Intercept)")
        }
        if self.level1_variance is not None:
            out["Residual"] = float(self.level1_variance)
        return out

    def intraclass_correlations(self) -> dict[str, float]:
        """ICC per grouping factor g: ``tau_g / (sum of intercept variances + sigma^2)``, the share
        of the outcome variance between g-clusters (meaningful for the null model; with nested
        levels the correlation within a class is the sum of the class and school shares)."""
        vc = self.variance_components()
        total = sum(vc.values())
        if total <= 0:
            raise ValueError(f"{self.label}: ICC: the total variance is zero")
        return {g: v / total for g, v in vc.items() if g != "Residual"}

    def design(self, data: pd.DataFrame) -> Design:
        """The fit's model matrices evaluated on ``data`` (from the parsed formula)."""
        return build_design(self.formula, data)

    def replace(self, **changes: Any) -> FitRecord:
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------- building
    @classmethod
    def from_dict(cls, d: Mapping[str, Any], arrays: Mapping[str, Any] | None = None) -> FitRecord:
        """A record from its JSON summary (``arrays`` the contents of its arrays file; without
        one, ``theta`` and ``ranef`` are read from the summary, as in results' ``to_dict()``)."""
        arrays = dict(arrays or {})
        family = ModelFamily()
        if d.get("family") not in (None, "gaussian"):
            family = ModelFamily(
                d["family"], d.get("link") or "identity", d.get("nagq"), d.get("dispersion")
            )
        reml = d.get("reml", True)
        estimator = d.get("estimator") or ("reml" if reml else "ml")
        theta = arrays.get("theta", d.get("theta"))
        pooling = None
        if "pooling" in d:
            p = dict(d["pooling"])
            pooling = Pooling(
                method=p.pop("method"),
                m=int(p.pop("m")),
                notes=p,
                loglik_imputations=tuple(d.get("loglik_imputations", ())),
                icc=d.get("icc_pooled"),
            )
        opt = d.get("optimizer")
        thresholds = d.get("thresholds")
        return cls(
            formula=parse_formula(d["formula"]),
            fixed=tuple(FixedEffect.from_dict(r) for r in d.get("fixed", ())),
            random=tuple(VarCorr.from_dict(r) for r in d.get("random", ())),
            estimator=estimator,
            family=family,
            backend=d.get("backend", "mlmpipe"),
            model=d.get("model"),
            planned_formula=d.get("planned_formula"),
            nobs=d.get("nobs"),
            ngroups=dict(d.get("ngroups", {})),
            loglik=d.get("loglik"),
            aic=d.get("aic"),
            bic=d.get("bic"),
            deviance=d.get("deviance"),
            npar=d.get("npar"),
            sigma=d.get("sigma"),
            theta=None if theta is None else np.asarray(theta, float),
            beta=_array(arrays.get("beta")),
            vcov=_array(arrays.get("vcov")),
            extra=_array(arrays.get("extra")),
            converged=bool(d.get("converged", True)),
            singular=bool(d.get("singular", False)),
            warnings=tuple(d.get("warnings", ())),
            dropped_columns=tuple(d.get("dropped_columns", ())),
            optimizer=None if opt is None else OptSummary(**opt),
            df_method=d.get("df_method"),
            ranef=_ranef_from(d.get("ranef"), arrays),
            thresholds=None
            if thresholds is None
            else tuple(Threshold.from_dict(t) for t in thresholds),
            icc=d.get("icc"),
            level1_variance=d.get("level1_variance"),
            ladder=d.get("ladder"),
            pooling=pooling,
            weights=d.get("weights"),
            residual=d.get("residual"),
            prior=d.get("prior"),
            prior_description=d.get("prior_description"),
        )

    # ------------------------------------------------------------- storing
    def to_dict(self) -> dict[str, Any]:
        """The JSON summary (arrays go to :meth:`arrays`)."""
        d: dict[str, Any] = {
            "schema": SCHEMA,
            "backend": self.backend,
            "formula": self.formula_text,
            "reml": self.reml,
            "estimator": self.estimator,
            "nobs": self.nobs,
            "ngroups": dict(self.ngroups),
            "fixed": [r.to_dict() for r in self.fixed],
            "random": [r.to_dict() for r in self.random],
            "loglik": self.loglik,
            "aic": self.aic,
            "bic": self.bic,
            "deviance": self.deviance,
            "npar": self.npar,
            "sigma": self.sigma,
            "converged": self.converged,
            "singular": self.singular,
            "warnings": list(self.warnings),
            "dropped_columns": list(self.dropped_columns),
            "optimizer": None if self.optimizer is None else self.optimizer.to_dict(),
            "df_method": self.df_method,
        }
        if self.model is not None:
            d["model"] = self.model
        if self.planned_formula is not None:
            d["planned_formula"] = self.planned_formula
        if self.ladder is not None:
            d["ladder"] = dict(self.ladder)
        for key in ("weights", "residual", "prior", "prior_description"):
            if getattr(self, key) is not None:
                d[key] = _plain(getattr(self, key))
        if self.family.is_glmm:
            fam = self.family
            d |= {
                "family": fam.name,
                "link": fam.link,
                "nagq": fam.nagq,
                "dispersion": fam.dispersion,
                "thresholds": None
                if self.thresholds is None
                else [t.to_dict() for t in self.thresholds],
                "icc": None if self.icc is None else dict(self.icc),
                "icc_scale": fam.icc_scale,
                "level1_variance": self.level1_variance,
            }
        if self.ranef:
            d["ranef"] = {
                g: {"levels": list(b.levels), "terms": list(b.terms)} for g, b in self.ranef.items()
            }
        if self.pooling is not None:
            d["pooling"] = self.pooling.to_dict()
            if self.pooling.rubin:
                d["loglik_imputations"] = list(self.pooling.loglik_imputations)
                d["icc_pooled"] = None if self.pooling.icc is None else dict(self.pooling.icc)
        return d

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays file's contents: parameter vectors, vcov and the conditional modes."""
        out: dict[str, np.ndarray] = {}
        for name in ("theta", "beta", "vcov", "extra"):
            v = getattr(self, name)
            if v is not None:
                out[name] = np.asarray(v, float)
        for g, b in self.ranef.items():
            out[f"ranef/{g}/values"] = np.asarray(b.values, float)
            if b.condsd is not None:
                out[f"ranef/{g}/condsd"] = np.asarray(b.condsd, float)
        return out

    def save(self, path: str | Path) -> tuple[Path, Path]:
        """Write ``path`` (JSON summary) and its arrays file (``path`` with suffix ``.npz``)."""
        path = Path(path)
        apath = arrays_path(path)
        d = self.to_dict() | {"arrays": apath.name}
        path.write_text(json.dumps(_jsonable(d), indent=1), encoding="utf-8")
        with open(apath, "wb") as fh:
            np.savez(fh, **self.arrays())
        return path, apath

    @classmethod
    def load(cls, path: str | Path) -> FitRecord:
        """Read a record written by :meth:`save`."""
        path = Path(path)
        d = json.loads(path.read_text(encoding="utf-8"))
        if d.get("schema") != SCHEMA:
            raise ValueError(f"{path}: not a {SCHEMA} fit record (schema {d.get('schema')!r})")
        with np.load(path.parent / d["arrays"]) as z:
            arrays = {k: z[k] for k in z.files}
        return cls.from_dict(d, arrays=arrays)


def arrays_path(path: str | Path) -> Path:
    """Where the arrays of the record stored at ``path`` live (``imp0.json`` -> ``imp0.npz``)."""
    return Path(_paths_arrays_path(path))


def load_record(path: str | Path) -> FitRecord:
    return FitRecord.load(path)


def _array(v: Any) -> np.ndarray | None:
    return None if v is None else np.asarray(v, float)


def _ranef_from(meta: Mapping[str, Any] | None, arrays: Mapping[str, Any]) -> dict[str, RanefBlock]:
    out: dict[str, RanefBlock] = {}
    for g, entry in (meta or {}).items():
        values = arrays.get(f"ranef/{g}/values", entry.get("values"))
        condsd = arrays.get(f"ranef/{g}/condsd", entry.get("condsd"))
        terms = tuple(entry["terms"])
        vals = np.asarray(values, float).reshape(len(entry["levels"]), len(terms))
        out[g] = RanefBlock(
            levels=tuple(entry["levels"]),
            terms=terms,
            values=vals,
            condsd=None if condsd is None else np.asarray(condsd, float).reshape(vals.shape),
        )
    return out


def _plain(obj: Any) -> Any:
    """Mappings and tuples (frozen plan values) as dicts and lists."""
    if isinstance(obj, Mapping):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def _jsonable(obj: Any) -> Any:
    """Plain JSON: numpy scalars and arrays to Python numbers and lists."""
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    return obj
