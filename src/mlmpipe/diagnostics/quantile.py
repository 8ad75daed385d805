"""Residuals of GLMM and ordinal fits that have a known distribution under the model.

Deviance or Pearson residuals of binary, count and ordinal outcomes are discrete and skewed: their
Q-Q plots show bands, not a line, whatever the fit. Two randomized residuals restore a continuous
reference distribution:

* **Randomized quantile residuals** (Dunn & Smyth 1996, J. Comput. Graph. Stat. 5(3):236-244) for
  binomial (0/1 and trials), Poisson and negative binomial (NB2) outcomes. With ``F`` the
  conditional CDF of ``y_i`` at the fitted mean ``mu_i``,
  ``u_i ~ Uniform(F(y_i - 1), F(y_i)]`` and ``r_i = Phi^{-1}(u_i)``; if the model holds, the
  ``r_i`` are independent standard normal (exactly, at the true parameters).
* **Surrogate residuals** (Liu & Zhang 2018, JASA 113(522):845-854) for cumulative-link ordinal
  outcomes. With latent ``S_i = eta_i + e_i``, ``e_i ~ F`` (logistic or normal) and
  ``y_i = j`` iff ``alpha_{j-1} < S_i <= alpha_j``, draw ``S_i`` from ``F(. - eta_i)`` truncated
  to the observed category's interval; ``R_i = S_i - eta_i`` then follows ``F`` itself, so it is
  compared with the logistic (logit link) or standard normal (probit) distribution. Its PIT
  ``F(R_i)`` is uniform, and ``Phi^{-1}(F(R_i))`` is the ordinal quantile residual used for
  outliers on the same scale as the other families.

Choice: the residuals are *conditional* on the conditional modes (``mu_i`` and ``eta_i`` include
``Z b``), as DHARMa's residuals simulated conditional on the fitted random effects
(``re.form = NULL``) and Liu & Zhang's residuals for a fitted mixed model. They check the
level-1 part of the model (link, mean structure, dispersion); the random-effects distribution is
checked by the standardized conditional modes (:func:`mlmpipe.diagnostics.standardized_modes`).
Estimated parameters and modes make them only approximately N(0, 1) / F, so goodness-of-fit
tests on them are approximate. The uniform draws come from ``numpy.random.default_rng(seed)``:
the same seed gives the same residuals.
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

from mlmpipe.errors import EstimationError

#: Families with randomized quantile residuals (ordinal: surrogate residuals).
COUNT_FAMILIES = ("binomial", "poisson", "negbin")
_TINY = 1e-300


def _interval_draw(
    lo: np.ndarray, hi: np.ndarray, slo: np.ndarray, shi: np.ndarray, v: np.ndarray
) -> np.ndarray:
    """Normal score ``Phi^{-1}(u)`` of ``u ~ U(lo, hi]`` (given as CDFs ``lo, hi`` and survival
    functions ``slo = 1 - lo, shi = 1 - hi``) from the uniform ``v``; the upper half is
    computed from the survival functions so that ``u`` near 1 keeps its precision."""
    upper = lo > 0.5
    u = lo + v * (hi - lo)
    s = shi + (1.0 - v) * (slo - shi)
    low_z = stats.norm.ppf(np.clip(u, _TINY, 1.0))
    up_z = -stats.norm.ppf(np.clip(s, _TINY, 1.0))
    return np.where(upper, up_z, low_z)


def _count_cdfs(family: str, y: np.ndarray, mu: np.ndarray, wt: np.ndarray, k: float | None):
    """(F(y - 1), F(y), 1 - F(y - 1), 1 - F(y)) of each observation under the fitted mean."""
    if family == "binomial":
        n = np.rint(wt)
        s = np.rint(y * wt)
        dist = stats.binom(n, mu)
    elif family == "poisson":
        s = np.rint(y)
        dist = stats.poisson(mu)
    elif family == "negbin":
        if k is None or not k > 0:
            raise EstimationError("quantile residuals: a negbin fit needs its dispersion k > 0")
        s = np.rint(y)
        dist = stats.nbinom(k, k / (k + mu))
    else:
        raise EstimationError(
            f"quantile residuals: family {family!r} not supported; allowed: "
            + ", ".join(COUNT_FAMILIES)
        )
    return dist.cdf(s - 1), dist.cdf(s), dist.sf(s - 1), dist.sf(s)


def randomized_quantile_residuals(
    family: str,
    y: np.ndarray,
    mu: np.ndarray,
    wt: np.ndarray | None = None,
    k: float | None = None,
    seed: int | np.random.Generator = 0,
) -> np.ndarray:
    """Dunn & Smyth (1996) randomized quantile residuals ``Phi^{-1}(U(F(y-1), F(y)])``.

    ``y``: binomial proportions with ``wt`` trials (0/1 outcomes: ``wt`` = 1), or counts;
    ``mu``: fitted conditional means (probabilities for binomial); ``k``: NB2 size
    (``Var = mu + mu^2 / k``). Standard normal if the model holds.
    """
    y, mu = np.asarray(y, float), np.asarray(mu, float)
    wt = np.ones_like(y) if wt is None else np.asarray(wt, float)
    lo, hi, slo, shi = _count_cdfs(family, y, mu, wt, k)
    rng = np.random.default_rng(seed)
    return _interval_draw(lo, hi, slo, shi, rng.uniform(size=y.size))


def _latent(link: str):
    if link == "logit":
        return stats.logistic
    if link == "probit":
        return stats.norm
    raise EstimationError(
        f"surrogate residuals: link {link!r} not supported; allowed: logit, probit"
    )


def surrogate_residuals(
    link: str,
    codes: np.ndarray,
    eta: np.ndarray,
    thresholds: np.ndarray,
    seed: int | np.random.Generator = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Liu & Zhang (2018) surrogate residuals of a cumulative-link fit, and their normal scores.

    ``codes``: observed categories 0..K-1; ``eta``: conditional latent means (``x'beta + z'b``,
    no intercept; ``P(Y <= j) = F(alpha_j - eta)``); ``thresholds``: ``alpha_0 < ... <
    alpha_{K-2}``. Returns ``(R, z)``: ``R = S - eta`` with ``S`` drawn from the latent
    distribution truncated to ``(alpha_{y-1}, alpha_y]``, so ``alpha_{y-1} - eta < R <=
    alpha_y - eta``; ``R ~ F`` (logistic or normal) under the model, and ``z = Phi^{-1}(F(R))``.
    """
    dist = _latent(link)
    codes = np.asarray(codes).astype(int)
    eta = np.asarray(eta, float)
    alpha = np.asarray(thresholds, float)
    if np.any(np.diff(alpha) <= 0):
        raise EstimationError(
            f"surrogate residuals: thresholds must increase, got {alpha.tolist()}"
        )
    if codes.min() < 0 or codes.max() > alpha.size:
        raise EstimationError(
            f"surrogate residuals: categories must be 0..{alpha.size}, got {codes.min()}..{codes.max()}"
        )
    ext = np.concatenate([[-np.inf], alpha, [np.inf]])
    a, b = ext[codes] - eta, ext[codes + 1] - eta
    lo, hi, slo, shi = dist.cdf(a), dist.cdf(b), dist.sf(a), dist.sf(b)
    v = np.random.default_rng(seed).uniform(size=eta.size)
    upper = lo > 0.5
    u = lo + v * (hi - lo)
    s = shi + (1.0 - v) * (slo - shi)
    r = np.where(upper, dist.isf(np.clip(s, _TINY, 1.0)), dist.ppf(np.clip(u, _TINY, 1.0)))
    r = np.clip(r, a, b)  # rounding at the interval ends
    if link == "logit":  # Phi^{-1}(F(R)) through log-odds stays accurate in both tails
        z = np.where(r > 0, -stats.norm.ppf(special.expit(-r)), stats.norm.ppf(special.expit(r)))
    else:
        z = r
    return r, z
