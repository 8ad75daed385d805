"""Response distributions and link functions of generalized linear (mixed) models.

A ``Family`` gives what PIRLS and the Laplace/quadrature deviance need (McCullagh & Nelder 1989,
Generalized Linear Models, ch. 2): the inverse link ``mu = g^{-1}(eta)`` and its derivative
``d mu / d eta``, the variance function ``V(mu)``, the unit deviance residuals and the conditional
log-likelihood ``-2 log p(y | mu)`` (R's ``family()$aic``). Binomial responses are proportions ``y``
with prior weights ``n`` (trials), as R's ``glm`` stores ``cbind(successes, failures)``.
The numerical guards (clamping ``mu`` away from 0 and 1) follow R's ``make.link`` and ``binomial()``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy import special

from mlmpipe.engine.links import LINKS, Link
from mlmpipe.engine.ordinal import make_ordinal
from mlmpipe.errors import EstimationError


@dataclass(frozen=True)
class Family:
    """A response distribution with its link (see module docstring)."""

    name: str
    link: Link
    latent_variance: float | None = None  # level-1 variance on the latent scale (ICC)
    k: float | None = None  # negative binomial (NB2) size: Var(y) = mu + mu^2 / k

    @property
    def nextra(self) -> int:
        """Number of family parameters estimated with theta and beta (NB2: log k)."""
        return 1 if self.name == "negbin" else 0

    def with_extra(self, extra: np.ndarray) -> Family:
        """The family at the parameter values ``extra`` (NB2: ``[log k]``)."""
        return dataclasses.replace(self, k=float(np.exp(extra[0]))) if self.nextra else self

    def extra_start(self, y: np.ndarray) -> np.ndarray:
        return np.zeros(self.nextra)

    def eta_start(self, y: np.ndarray, wt: np.ndarray) -> np.ndarray:
        return self.link.linkfun(self.mustart(y, wt))

    def m2ll(self, y: np.ndarray, eta: np.ndarray, wt: np.ndarray) -> np.ndarray:
        """``-2 log p(y_i | eta_i)`` per observation."""
        return self.cond_m2loglik(y, self.link.linkinv(eta), wt)

    def unit_deviance(self, y: np.ndarray, eta: np.ndarray, wt: np.ndarray) -> np.ndarray:
        """What PIRLS minimizes with ``||u||^2``: ``-2 log p`` up to a constant in eta (two logs
        instead of the deviance residuals' four: this runs at every PIRLS step)."""
        mu = self.link.linkinv(eta)
        if self.name == "binomial":
            return -2 * wt * (y * np.log(mu) + (1 - y) * np.log1p(-mu))
        if self.name == "negbin":
            return 2 * wt * ((y + self.k) * np.log(mu + self.k) - y * np.log(mu))
        return 2 * wt * (mu - y * np.log(mu))

    # ----------------------------------------------------------------- pieces
    def variance(self, mu: np.ndarray) -> np.ndarray:
        if self.name == "binomial":
            return mu * (1 - mu)
        if self.name == "negbin":
            return mu + mu * mu / self.k
        return mu

    def dev_resid(self, y: np.ndarray, mu: np.ndarray, wt: np.ndarray) -> np.ndarray:
        """Unit deviance residuals ``d_i`` (squared), summing to the GLM deviance."""
        if self.name == "binomial":
            ylogy = special.xlogy(y, y) + special.xlogy(1 - y, 1 - y)
            return 2 * wt * (ylogy - special.xlogy(y, mu) - special.xlogy(1 - y, 1 - mu))
        if self.name == "negbin":
            k = self.k
            return (
                2
                * wt
                * (
                    special.xlogy(y, y)
                    - special.xlogy(y, mu)
                    - (y + k) * np.log((y + k) / (mu + k))
                )
            )
        return 2 * wt * (special.xlogy(y, y) - special.xlogy(y, mu) - (y - mu))

    def cond_m2loglik(self, y: np.ndarray, mu: np.ndarray, wt: np.ndarray) -> np.ndarray:
        """``-2 log p(y_i | mu_i)`` per observation (with the binomial coefficient / factorial)."""
        if self.name == "binomial":
            s = np.rint(y * wt)
            f = np.rint(wt) - s
            const = special.gammaln(wt + 1) - special.gammaln(s + 1) - special.gammaln(f + 1)
            return -2 * (const + s * np.log(mu) + f * np.log1p(-mu))
        if self.name == "negbin":
            k = self.k
            ll = special.gammaln(y + k) - special.gammaln(k) - special.gammaln(y + 1)
            ll += k * np.log(k / (k + mu)) + special.xlogy(y, mu / (k + mu))
            return -2 * wt * ll
        return -2 * wt * (special.xlogy(y, mu) - mu - special.gammaln(y + 1))

    def mustart(self, y: np.ndarray, wt: np.ndarray) -> np.ndarray:
        """Starting means as R's ``family()$initialize``."""
        if self.name == "binomial":
            return (wt * y + 0.5) / (wt + 1)
        return y + 0.1

    def working(
        self, y: np.ndarray, eta: np.ndarray, wt: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(mu, working weights ``wt mu_eta^2 / V(mu)``, working residual ``(y - mu) / mu_eta``)."""
        mu = self.link.linkinv(eta)
        d = self.link.mu_eta(eta)
        w = wt * d * d / self.variance(mu)
        return mu, w, (y - mu) / d

    def observed_weights(self, y: np.ndarray, eta: np.ndarray, wt: np.ndarray) -> np.ndarray:
        """``-d^2 log p(y | eta) / d eta^2``: the observed information that an exact Laplace
        approximation (as TMB's, behind glmmTMB) uses; equals the working weights for canonical
        links. Implemented for NB2 with log link: ``k mu (y + k) / (mu + k)^2``."""
        mu = self.link.linkinv(eta)
        if self.name == "negbin":
            return wt * self.k * mu * (y + self.k) / (mu + self.k) ** 2
        return self.working(y, eta, wt)[1]


def make_family(family: str, link: str | None = None) -> Family:
    """``binomial`` (logit, probit, cloglog), ``poisson`` or ``negbin`` (NB2; log); errors name the
    bad value. The NB2 size ``k`` starts at 1 and is estimated with theta and beta."""
    if family == "ordinal":
        return make_ordinal(link)
    allowed = {
        "binomial": ("logit", "probit", "cloglog"),
        "poisson": ("log",),
        "negbin": ("log",),
    }
    if family not in allowed:
        raise EstimationError(
            f"family: unknown value {family!r}; allowed: gaussian, {', '.join(allowed)}, ordinal"
        )
    link = link or allowed[family][0]
    if link not in allowed[family]:
        raise EstimationError(
            f"link: {link!r} is not available for family {family!r}; allowed: "
            + ", ".join(allowed[family])
        )
    latent = {"logit": np.pi**2 / 3, "probit": 1.0, "cloglog": np.pi**2 / 6}.get(link)
    return Family(family, LINKS[link], latent, 1.0 if family == "negbin" else None)
