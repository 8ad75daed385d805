"""Link functions of generalized linear (mixed) models: ``g``, ``g^{-1}`` and ``d g^{-1} / d eta``.

The numerical guards (clamping ``mu`` away from 0 and 1, bounding ``eta`` for probit and exp) follow
R's ``make.link`` and ``binomial()`` (McCullagh & Nelder 1989, Generalized Linear Models, ch. 2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# scipy.special, not scipy.stats (0.4 s of start-up): ndtr and ndtri are what scipy.stats.norm calls
from scipy import special

EPS = np.finfo(float).eps
_SQRT_2PI = np.sqrt(2 * np.pi)
_PROBIT_BOUND = -special.ndtri(EPS)  # |eta| beyond which pnorm is 0 or 1 in double precision


@dataclass(frozen=True)
class Link:
    """A link function: ``linkfun`` g, ``linkinv`` g^{-1}, ``mu_eta`` d g^{-1} / d eta."""

    name: str
    linkfun: Callable[[np.ndarray], np.ndarray]
    linkinv: Callable[[np.ndarray], np.ndarray]
    mu_eta: Callable[[np.ndarray], np.ndarray]


def _logit_inv(eta: np.ndarray) -> np.ndarray:
    return np.clip(special.expit(eta), EPS, 1 - EPS)


def _logit_mu_eta(eta: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(eta))
    return np.maximum(e / (1 + e) ** 2, EPS)


def _probit_inv(eta: np.ndarray) -> np.ndarray:
    return special.ndtr(np.clip(eta, -_PROBIT_BOUND, _PROBIT_BOUND))


def _probit_mu_eta(eta: np.ndarray) -> np.ndarray:
    return np.maximum(np.exp(-(eta**2) / 2.0) / _SQRT_2PI, EPS)  # the normal density


def _cloglog_inv(eta: np.ndarray) -> np.ndarray:
    return np.clip(-np.expm1(-np.exp(eta)), EPS, 1 - EPS)


def _cloglog_mu_eta(eta: np.ndarray) -> np.ndarray:
    eta = np.minimum(eta, 700.0)
    return np.maximum(np.exp(eta) * np.exp(-np.exp(eta)), EPS)


def _log_inv(eta: np.ndarray) -> np.ndarray:
    return np.maximum(np.exp(np.minimum(eta, 700.0)), EPS)


LINKS: dict[str, Link] = {
    "logit": Link("logit", special.logit, _logit_inv, _logit_mu_eta),
    "probit": Link("probit", special.ndtri, _probit_inv, _probit_mu_eta),
    "cloglog": Link("cloglog", lambda mu: np.log(-np.log1p(-mu)), _cloglog_inv, _cloglog_mu_eta),
    "log": Link("log", np.log, _log_inv, _log_inv),
}
