"""The result of a pseudo-maximum-likelihood (survey-weighted) fit: estimates with sandwich and
model-based standard errors (:mod:`mlmpipe.engine.survey`, :mod:`mlmpipe.engine.survey_glmm`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from mlmpipe.engine.optimize import OptSummary


@dataclass
class SurveyFit:
    """Pseudo-ML estimates ``params`` over ``param_names``: the fixed effects, then the
    random-effect (co)variances of ``group`` (``var(...)``/``cov(...)``), then, for linear models,
    ``var(Residual)``. ``vcov_robust``: the sandwich clustered at ``group``; ``vcov_model``: the
    inverse observed pseudo-information, except that its fixed-effects block is lme4's
    ``sigma^2 (X'V^{-1}X)^{-1}`` for linear models."""

    formula: str
    family: str
    scaling: str
    group: str
    fixed_names: tuple[str, ...]
    param_names: tuple[str, ...]
    params: np.ndarray
    vcov_robust: np.ndarray
    vcov_model: np.ndarray
    pseudo_loglik: float
    nobs: int
    ngroups: int
    weights: dict[str, str]
    theta: np.ndarray
    optsum: OptSummary
    small_sample: str
    nagq: int = 0
    alpha: float = 0.05
    warnings: list[str] = field(default_factory=list)

    @property
    def reml(self) -> bool:
        return False

    @property
    def converged(self) -> bool:
        return self.optsum.converged

    @property
    def beta(self) -> np.ndarray:
        return self.params[: len(self.fixed_names)]

    @property
    def fixef(self) -> pd.Series:
        return pd.Series(self.beta, index=list(self.fixed_names))

    @property
    def se_robust(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self.vcov_robust)), index=list(self.param_names))

    @property
    def se_model(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self.vcov_model)), index=list(self.param_names))

    @property
    def variances(self) -> pd.Series:
        """The variance parameters (random-effect (co)variances and, for LMMs, the residual)."""
        p = len(self.fixed_names)
        return pd.Series(self.params[p:], index=list(self.param_names[p:]))

    def table(self, robust: bool = True) -> pd.DataFrame:
        """Every parameter with its SE (sandwich by default), z, p and Wald interval."""
        se = (self.se_robust if robust else self.se_model).to_numpy()
        z = self.params / se
        q = special.ndtri(1 - self.alpha / 2)
        return pd.DataFrame(
            {
                "estimate": self.params,
                "se": se,
                "se_model": self.se_model.to_numpy(),
                "z": z,
                "p": 2 * special.ndtr(-np.abs(z)),
                "lower": self.params - q * se,
                "upper": self.params + q * se,
            },
            index=list(self.param_names),
        )

    def to_dict(self) -> dict[str, Any]:
        t = self.table()
        return {
            "estimator": "pseudo-ML",
            "formula": self.formula,
            "family": self.family,
            "scaling": self.scaling,
            "weights": dict(self.weights),
            "cluster": self.group,
            "nobs": self.nobs,
            "ngroups": self.ngroups,
            "nagq": self.nagq,
            "pseudo_loglik": float(self.pseudo_loglik),
            "converged": bool(self.converged),
            "small_sample_factor": self.small_sample,
            "parameters": [
                {"term": k, **{c: float(v) for c, v in row.items()}} for k, row in t.iterrows()
            ],
            "vcov_robust": self.vcov_robust.tolist(),
            "vcov_model": self.vcov_model.tolist(),
            "optimizer": self.optsum.to_dict(),
            "warnings": list(self.warnings),
        }

    def summary(self) -> str:
        head = (
            f"Pseudo-maximum likelihood ({self.family}), scaling {self.scaling!r}, "
            f"weights {self.weights}\n{self.formula}\n"
            f"{self.nobs} observations in {self.ngroups} {self.group}; pseudo-logLik "
            f"{self.pseudo_loglik:.4f}\nSEs: sandwich clustered at {self.group}, factor "
            f"{self.small_sample}\n"
        )
        return head + self.table().to_string(float_format=lambda v: f"{v:.5g}")
