"""Cumulative-link (ordinal) responses as a GLMM family: the model of R's ``ordinal::clmm``.

For categories ``0 < 1 < ... < K-1`` and thresholds ``alpha_0 < ... < alpha_{K-2}``,

    P(Y_i <= j | b) = F(alpha_j - eta_i),   eta_i = x_i'beta + z_i'b   (no intercept in X),

with ``F`` the logistic (logit link) or standard normal (probit) CDF (McCullagh 1980, JRSS B 42;
Christensen 2019, ordinal package). The observation log-likelihood is
``log[F(alpha_y - eta) - F(alpha_{y-1} - eta)]``; PIRLS uses Newton weights ``-d^2 l / d eta^2``
(log-concave, so positive), which makes the Laplace approximation the exact-Hessian one clmm uses.
The thresholds are estimated with theta and beta as ``(alpha_0, log(alpha_1 - alpha_0), ...)`` so
they stay ordered.

Standard errors (the definition of ``ordinal::clmm``): the covariance of (beta, thresholds) is the
inverse Hessian of the negative Laplace (or AGHQ) log-likelihood in all parameters at the optimum
(``engine/glmm.py``: ``2 H^{-1}`` of the deviance in (theta, beta, threshold parameters)), the
thresholds' block carried to ``alpha`` by the delta method (``thresholds_jacobian``). At a
stationary point the inverse Hessian transforms as a covariance under reparametrization, so this
equals clmm's ``solve(Hessian)`` in its (alpha, beta, log SD) parameters. clmm's printed SEs take
that Hessian by central differences with step 1e-4 of an objective whose inner Newton search
leaves noise of ~1e-10; they move by up to 1% (logit) with its ``gradTol``. The reference fixture
(``tests/fixtures/glmm/make_ordinal_fixture.R``) therefore differentiates clmm's own objective by
Richardson extrapolation; we match it to ~1e-5.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

# scipy.special, not scipy.stats (0.4 s of start-up): ndtr is what scipy.stats.norm.cdf calls
from scipy import special

from mlmpipe.engine.links import LINKS, Link
from mlmpipe.errors import EstimationError


def _cdf_pdf_dpdf(link: str, x: np.ndarray):
    """F, f = F', f' at x (x may hold +-inf)."""
    if link == "logit":
        F = special.expit(x)
        f = F * (1 - F)
        return F, f, f * (1 - 2 * F)
    F = special.ndtr(x)
    f = np.exp(-(x**2) / 2.0) / np.sqrt(2 * np.pi)  # the normal density, as scipy.stats.norm.pdf
    return F, f, np.where(np.isfinite(x), -x * f, 0.0)


def _label(v) -> str:
    """A category as R prints a factor level: ``2`` for the number 2.0, text as is."""
    if isinstance(v, str):
        return v
    return str(int(v)) if float(v).is_integer() else str(v)


@dataclass(frozen=True)
class OrdinalFamily:
    """Cumulative logit/probit family; ``alpha`` set by ``with_extra``."""

    link: Link
    latent_variance: float
    categories: tuple = ()
    alpha: tuple = ()
    name: str = "ordinal"
    k: float | None = None

    @property
    def nextra(self) -> int:
        return max(len(self.categories) - 1, 0)

    @property
    def threshold_names(self) -> list[str]:
        c = [_label(v) for v in self.categories]
        return [f"{a}|{b}" for a, b in zip(c[:-1], c[1:], strict=True)]

    def with_categories(self, categories) -> OrdinalFamily:
        return dataclasses.replace(self, categories=tuple(categories))

    def with_extra(self, extra: np.ndarray) -> OrdinalFamily:
        extra = np.asarray(extra, float)
        alpha = np.cumsum(np.concatenate([extra[:1], np.exp(extra[1:])]))
        return dataclasses.replace(self, alpha=tuple(alpha))

    def thresholds_jacobian(self, extra: np.ndarray) -> np.ndarray:
        """d alpha / d extra (for the delta-method SEs of the thresholds)."""
        n = len(extra)
        J = np.zeros((n, n))
        J[:, 0] = 1.0
        for j in range(1, n):
            J[j:, j] = np.exp(extra[j])
        return J

    def extra_start(self, y: np.ndarray) -> np.ndarray:
        """Thresholds at the marginal cumulative proportions: alpha_j = F^{-1}(P(Y <= j))."""
        K = len(self.categories)
        cum = np.cumsum(np.bincount(y.astype(int), minlength=K))[:-1] / y.size
        alpha = self.link.linkfun(np.clip(cum, 1e-6, 1 - 1e-6))
        return np.concatenate([alpha[:1], np.log(np.maximum(np.diff(alpha), 1e-3))])

    def eta_start(self, y: np.ndarray, wt: np.ndarray) -> np.ndarray:
        return np.zeros(y.size)

    # ------------------------------------------------------------ likelihood
    def _pieces(self, y: np.ndarray, eta: np.ndarray):
        a_ext = np.concatenate([[-np.inf], self.alpha, [np.inf]])
        yi = y.astype(int)
        upper = a_ext[yi + 1] - eta
        lower = a_ext[yi] - eta
        Fa, fa, dfa = _cdf_pdf_dpdf(self.link.name, upper)
        Fb, fb, dfb = _cdf_pdf_dpdf(self.link.name, lower)
        # F(a) - F(b) via the upper tail when both are near 1 (symmetric F)
        Sa, Sb = _cdf_pdf_dpdf(self.link.name, -upper)[0], _cdf_pdf_dpdf(self.link.name, -lower)[0]
        p = np.where(lower > 0, Sb - Sa, Fa - Fb)
        return np.maximum(p, 1e-300), fa, fb, dfa, dfb

    def m2ll(self, y: np.ndarray, eta: np.ndarray, wt: np.ndarray) -> np.ndarray:
        p = self._pieces(y, eta)[0]
        return -2 * wt * np.log(p)

    unit_deviance = m2ll

    def working(self, y: np.ndarray, eta: np.ndarray, wt: np.ndarray):
        """(cumulative probability of the observed category, Newton weights, working residuals)."""
        p, fa, fb, dfa, dfb = self._pieces(y, eta)
        d1 = (fb - fa) / p
        w = wt * np.maximum(d1 * d1 - (dfa - dfb) / p, 1e-12)
        return p, w, wt * d1 / w

    def observed_weights(self, y, eta, wt):
        return self.working(y, eta, wt)[1]

    def dev_resid(self, y, mu, wt):  # only the sum matters to callers; mu is p here
        return -2 * wt * np.log(np.maximum(mu, 1e-300))


def make_ordinal(link: str | None) -> OrdinalFamily:
    link = link or "logit"
    if link not in ("logit", "probit"):
        raise EstimationError(
            f"link: {link!r} is not available for family 'ordinal'; allowed: logit, probit"
        )
    return OrdinalFamily(LINKS[link], np.pi**2 / 3 if link == "logit" else 1.0)
