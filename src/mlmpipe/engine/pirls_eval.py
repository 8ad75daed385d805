"""The per-observation quantities of a PIRLS step, computed once per linear predictor.

At every trial linear predictor ``eta`` PIRLS needs the data part of the penalized deviance,
``sum_i d_i(eta_i)`` with ``d_i = -2 log p(y_i | eta_i)`` up to a constant in ``eta`` (to accept a
step or halve it), and at the accepted ``eta`` the working weights ``w_i = a_i mu_eta^2 / V(mu)``
and working residuals ``(y_i - mu_i) / mu_eta`` of the next step (McCullagh & Nelder 1989,
Generalized Linear Models, sec. 2.5; Bates et al. 2015, J. Stat. Softw. 67(1), sec. 5). With
hundreds of thousands of observations these elementwise passes are most of a GLMM fit's time.

``ResponseEval`` computes them through the family's own functions, except for the binomial with logit
link (the common case), where everything follows from ``e = exp(-|eta|)`` alone:

    -log mu     = softplus(-eta) = max(eta, 0) - eta + log(1 + e),
    -log(1-mu)  = softplus(eta)  = max(eta, 0) + log(1 + e),
    mu          = 1 / (1 + e) (eta >= 0),  e / (1 + e) (eta < 0),
    mu_eta      = e / (1 + e)^2 = mu (1 - mu) = V(mu),  so  w = a mu_eta.

The guards are those of ``engine/family.py`` (R's ``binomial()``): ``mu`` clamped to
``[eps, 1 - eps]``, so ``-log mu`` and ``-log(1 - mu)`` are capped at ``-log eps``, and
``mu_eta >= eps``. The two paths agree to rounding (relative ~1e-16).
"""

from __future__ import annotations

import numpy as np

from mlmpipe.engine.links import EPS

_NEG_LOG_EPS = -np.log(EPS)


class ResponseEval:
    """Deviance and working quantities of ``family`` for responses ``y`` with prior weights ``wt``."""

    def __init__(self, family, y: np.ndarray, wt: np.ndarray) -> None:
        self.family = family
        self.y = y
        self.wt = wt
        self.logit = family.name == "binomial" and family.link.name == "logit"
        if self.logit:
            self.wy = wt * y  # successes
            self.w1y = wt - self.wy  # failures
            self.unit_wt = bool(np.all(wt == 1.0))

    def deviance(self, eta: np.ndarray) -> tuple[float, object]:
        """``(sum_i d_i(eta_i), cache)``; pass ``cache`` to ``working`` at the same ``eta``."""
        if not self.logit:
            return float(np.sum(self.family.unit_deviance(self.y, eta, self.wt))), None
        e = np.abs(eta)
        np.negative(e, out=e)
        clamp = bool(e.min() < -_NEG_LOG_EPS)  # some mu beyond the [eps, 1 - eps] guard
        np.exp(e, out=e)  # e = exp(-|eta|)
        ope = 1.0 + e
        sp = np.log(ope)
        sp += np.maximum(eta, 0.0)  # softplus(eta) = -log(1 - mu); softplus(-eta) = sp - eta
        if clamp:
            sp_pos = sp - eta
            np.minimum(sp, _NEG_LOG_EPS, out=sp)
            np.minimum(sp_pos, _NEG_LOG_EPS, out=sp_pos)
            dev = 2.0 * (float(np.dot(self.wy, sp_pos)) + float(np.dot(self.w1y, sp)))
        else:  # sum wy (sp - eta) + w1y sp = sum wt sp - sum wy eta
            spsum = float(np.sum(sp)) if self.unit_wt else float(np.dot(self.wt, sp))
            dev = 2.0 * (spsum - float(np.dot(self.wy, eta)))
        return dev, (e, ope, clamp)

    def working(self, eta: np.ndarray, cache: object = None) -> tuple[np.ndarray, np.ndarray]:
        """Working weights and working residuals at ``eta`` (``cache`` from ``deviance(eta)``)."""
        if not self.logit:
            _, w, wres = self.family.working(self.y, eta, self.wt)
            return w, wres
        if cache is None:
            e = np.exp(-np.abs(eta))
            ope = 1.0 + e
            clamp = True
        else:
            e, ope, clamp = cache
        mu = np.where(eta >= 0, 1.0, e)
        mu /= ope
        d = e / ope
        d /= ope  # mu_eta = e / (1 + e)^2
        if clamp:
            np.clip(mu, EPS, 1 - EPS, out=mu)
            np.maximum(d, EPS, out=d)
        wres = self.y - mu
        wres /= d
        w = d if self.unit_wt else self.wt * d
        return w, wres
