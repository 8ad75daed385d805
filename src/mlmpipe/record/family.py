"""The response family of a fitted model, as the consumers of a fit record see it.

Family-specific quantities are methods here instead of ``if family == ...`` chains in consumers:
the inverse link, whether effect sizes live on a latent scale, the level-1 variance of that scale
(pi^2/3 logit, 1 probit, pi^2/6 cloglog; Snijders & Bosker 2012, sec. 17.3; the lognormal
approximation for counts, Nakagawa, Johnson & Schielzeth 2017), the kind of level-1 residual
(conditional ``y - fitted``; randomized quantile, Dunn & Smyth 1996; surrogate, Liu & Zhang 2018)
and the name of an exponentiated coefficient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlmpipe.engine.links import LINKS

#: families whose level-1 residual is a randomized quantile residual
QUANTILE_FAMILIES = ("binomial", "poisson", "negbin")
_LATENT_VARIANCE = {"logit": np.pi**2 / 3, "probit": 1.0, "cloglog": np.pi**2 / 6}
_RATIO = {"logit": "odds ratio", "log": "rate ratio"}


@dataclass(frozen=True)
class ModelFamily:
    """Family and link of a fit; ``nagq`` the quadrature nodes (1 = Laplace) of a GLMM and
    ``dispersion`` the NB2 size ``k`` (glmmTMB's ``sigma()`` for ``nbinom2``)."""

    name: str = "gaussian"
    link: str = "identity"
    nagq: int | None = None
    dispersion: float | None = None

    @classmethod
    def gaussian(cls) -> ModelFamily:
        return cls()

    # ------------------------------------------------------------------ kinds
    @property
    def is_gaussian(self) -> bool:
        return self.name == "gaussian"

    @property
    def is_ordinal(self) -> bool:
        return self.name == "ordinal"

    @property
    def is_glmm(self) -> bool:
        """A non-gaussian fit (GLMM or cumulative-link mixed model): ML only, Wald z tests."""
        return not self.is_gaussian

    @property
    def latent(self) -> bool:
        """Effect sizes of the fit are on the latent (link) scale (every non-gaussian family)."""
        return not self.is_gaussian

    # ------------------------------------------------------------- quantities
    def inverse_link(self, eta: np.ndarray) -> np.ndarray:
        """Linear predictor -> conditional mean; an ordinal fit stays on its latent scale."""
        eta = np.asarray(eta, float)
        if self.is_gaussian or self.is_ordinal:
            return eta
        return LINKS[self.link].linkinv(eta)

    @property
    def latent_variance(self) -> float | None:
        """The fixed level-1 variance of the latent scale (None: gaussian, or counts, whose VPC
        uses the fit's lognormal approximation ``level1_variance``)."""
        if self.is_gaussian or self.name in ("poisson", "negbin"):
            return None
        return _LATENT_VARIANCE.get(self.link)

    @property
    def icc_scale(self) -> str | None:
        if self.is_gaussian:
            return None
        return "latent" if self.latent_variance is not None else "vpc-lognormal"

    @property
    def residual_type(self) -> str:
        """``"conditional"`` (y - fitted), ``"quantile"`` or ``"surrogate"``."""
        if self.is_gaussian:
            return "conditional"
        return "surrogate" if self.is_ordinal else "quantile"

    @property
    def ratio_name(self) -> str | None:
        """Name of ``exp(beta)``: odds ratio (logit), rate ratio (log), cumulative odds ratio
        (ordinal logit); None where exponentiating means nothing."""
        if self.is_ordinal:
            return "cumulative odds ratio" if self.link == "logit" else None
        return None if self.is_gaussian else _RATIO.get(self.link)

    def fit_options(self) -> dict[str, object]:
        """Keyword arguments of :func:`mlmpipe.fit` that refit with this family (empty for
        gaussian fits)."""
        if self.is_gaussian:
            return {}
        return {
            "family": self.name,
            "link": self.link,
            "nagq": 1 if self.nagq is None else self.nagq,
        }
