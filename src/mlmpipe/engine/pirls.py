"""Penalized iteratively reweighted least squares (PIRLS) for the conditional modes of a GLMM.

For fixed ``theta`` (and fixed ``beta`` in lme4's second stage), the conditional mode ``u`` of the
spherical random effects minimizes the penalized deviance ``sum d_i(y_i, mu_i) + ||u||^2`` with
``eta = offset + X beta + Z Lambda(theta) u``. Each PIRLS step linearizes the model at the current
``eta``: working weights ``w = a mu_eta^2 / V(mu)`` and working response
``z = eta - offset + (y - mu) / mu_eta`` turn it into the penalized weighted least-squares problem of
an LMM, solved by the inner ``LinearMixedModel``'s blocked Cholesky factor of
``Lambda'Z'WZ Lambda + I`` (one core; Bates et al. 2015, J. Stat. Softw. 67(1), sec. 5; Bates,
"Computational methods for mixed models", lme4 vignette). Steps are halved until the penalized
deviance does not increase. With ``beta`` free (lme4's ``nAGQ = 0`` stage) the same system also
gives ``beta``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlmpipe.engine import blocks as B
from mlmpipe.engine.blocks import BlockDiag
from mlmpipe.engine.lmm import Factorization, LinearMixedModel
from mlmpipe.engine.pirls_eval import ResponseEval
from mlmpipe.errors import EstimationError


@dataclass
class PirlsState:
    """Converged PIRLS quantities at one (theta, beta)."""

    us: list[np.ndarray]  # spherical modes, internal term order
    beta: np.ndarray
    eta: np.ndarray
    mu: np.ndarray
    factor: Factorization
    sumsq_u: float
    iterations: int
    dev: float = float("nan")  # sum of the family's unit deviances at eta (``ResponseEval``)


class Pirls:
    """PIRLS on a GLMM response (``y`` proportions or counts, prior weights ``wt``, ``offset``)."""

    def __init__(self, lmm: LinearMixedModel, family, y, wt, offset) -> None:
        self.lmm = lmm
        self.family = family
        self.y = y
        self.wt = wt
        self.offset = offset
        self.lmm_u: LinearMixedModel | None = None  # same terms, no fixed effects (u-only steps)
        self._eval: ResponseEval | None = None
        # terms whose single column is all ones (random intercepts): Z Lambda u is a gather
        self._ones = [lmm.reterms[i].ones for i in lmm.order]

    def evaluator(self) -> ResponseEval:
        """The ``ResponseEval`` of the current family (NB2's changes with its size k)."""
        if self._eval is None or self._eval.family is not self.family:
            self._eval = ResponseEval(self.family, self.y, self.wt)
        return self._eval

    def random_part(self, Ts: list[np.ndarray], us: list[np.ndarray]) -> np.ndarray:
        """``Z Lambda(theta) u`` over all terms (``Ts`` from ``thetas_by_term``)."""
        m = self.lmm
        out = None
        for pos, T in enumerate(Ts):
            r = m.reterms[m.order[pos]]
            if r.q == 1 and not r.mm:
                t = r.term
                v = (T[0, 0] * us[pos])[t.codes]
                if not self._ones[pos]:
                    v *= t.Z[:, 0]
            else:
                v = m._Zs[pos] @ (us[pos].reshape(r.m, r.q) @ T.T).ravel()
            if out is None:
                out = v
            else:
                out += v
        return np.zeros(m.n) if out is None else out

    def _u_only(self, T: np.ndarray, w: np.ndarray, res: np.ndarray):
        """Modes for one term with beta fixed: ``(T'Z_l'W Z_l T + I) u_l = T'Z_l'W res`` per level
        ``l`` (``res`` = working response minus the fixed part): the same system as the blocked
        factor's, without its fixed-effects rows."""
        r = self.lmm.reterms[self.lmm.order[0]]
        t, q = r.term, r.q
        if q == 1:  # scalar blocks: D_l = t^2 Z_l'W Z_l + 1, u_l = t Z_l'W res / D_l
            tt = float(T[0, 0])
            D = r.diag_crossprod(w).reshape(-1)
            D *= tt * tt
            D += 1.0
            wr = w * res if r.ones else t.Z[:, 0] * w * res
            u = np.bincount(t.codes, weights=wr, minlength=r.m)
            u *= tt
            u /= D
            L = BlockDiag(np.sqrt(D).reshape(-1, 1, 1))
            return Factorization([[L]], 0.5 * float(np.sum(np.log(D))), np.nan, np.nan), [u]
        D = np.swapaxes(T, 0, 1) @ r.diag_crossprod(w) @ T
        D[:, np.arange(q), np.arange(q)] += 1.0
        Lb = B.batched_cholesky(D)
        wr = w * res
        rhs = np.stack(
            [np.bincount(t.codes, weights=t.Z[:, a] * wr, minlength=r.m) for a in range(q)], axis=1
        )
        rhs = rhs @ T  # row l: (T' Z_l'W res)'
        Li = B.batched_inv_lower(Lb)
        c = np.einsum("lab,lb->la", Li, rhs)
        u = np.einsum("lba,lb->la", Li, c).ravel()
        L = BlockDiag(Lb)
        return Factorization([[L]], L.logdet_chol(), float("nan"), float("nan")), [u]

    def _solve(self, mode, theta, Ts, w, wres, eta, fixed, beta, beta_free):
        """One PIRLS solve at working weights ``w`` and residuals ``wres``:
        ``(factor, new modes, new beta)``; ``mode`` is ``"fast"`` (one term, per level),
        ``"u_only"`` (beta fixed: the system without fixed-effects rows) or ``"full"``."""
        m = self.lmm
        if mode == "fast":
            f, new_us = self._u_only(Ts[0], w, eta - fixed + wres)
            return f, new_us, beta
        if mode == "u_only":
            self.lmm_u.reweight(w, eta - fixed + wres)
            f = self.lmm_u.factorize(theta)
            return f, self.lmm_u.spherical_modes(f, np.zeros(0)), beta
        m.reweight(w, eta - self.offset + wres)
        f = m.factorize(theta)
        new_beta = m.beta_from(f) if beta_free else beta
        return f, m.spherical_modes(f, new_beta), new_beta

    def penalized_deviance(self, eta: np.ndarray, us: list[np.ndarray]) -> tuple[float, float]:
        ss = float(sum(np.dot(u, u) for u in us))
        return self.evaluator().deviance(eta)[0] + ss, ss

    def run(
        self,
        theta: np.ndarray,
        beta: np.ndarray,
        us0: list[np.ndarray],
        beta_free: bool = False,
        eta_start: np.ndarray | None = None,
        tol: float = 1e-11,
        maxit: int = 60,
        full: bool = False,
    ) -> PirlsState:
        """Iterate to the conditional modes from the start ``us0`` (and ``beta`` when ``beta_free``);
        ``eta_start`` (e.g. the link of R's starting means) gives the first working weights.
        With beta fixed and one random-effects term the update is solved per level (``_u_only``)
        unless ``full`` asks for the whole blocked factor (needed for R_X)."""
        m, fam = self.lmm, self.family
        theta = np.asarray(theta, float)
        Ts = m.thetas_by_term(theta)
        us = [u.copy() for u in us0]
        beta = np.asarray(beta, float).copy()
        ev = self.evaluator()
        fixed = self.offset + m.X @ beta
        cache = None
        if eta_start is None:
            eta = fixed + self.random_part(Ts, us)
            dev, cache = ev.deviance(eta)
            pdev = dev + float(sum(np.dot(u, u) for u in us))
        else:
            eta, pdev = np.asarray(eta_start, float), np.inf
        fast = not (beta_free or full) and m.K == 1 and not m.reterms[0].mm
        u_only = not (beta_free or full) and m.K > 1 and self.lmm_u is not None
        mode = "fast" if fast else "u_only" if u_only else "full"
        last = None  # previous change, after a full Newton step
        for it in range(1, maxit + 1):
            w, wres = ev.working(eta, cache)
            f, new_us, new_beta = self._solve(mode, theta, Ts, w, wres, eta, fixed, beta, beta_free)
            step = 1.0
            for _ in range(30):
                cu = [u + step * (nu - u) for u, nu in zip(us, new_us, strict=True)]
                cb = beta + step * (new_beta - beta)
                ceta = self.random_part(Ts, cu)
                ceta += self.offset + m.X @ cb if beta_free else fixed
                cdata, ccache = ev.deviance(ceta)
                cdev = cdata + float(sum(np.dot(u, u) for u in cu))
                if np.isfinite(cdev) and cdev <= pdev + 1e-12 * abs(pdev):
                    break
                step /= 2
            else:
                raise EstimationError("PIRLS step-halving failed to reduce the penalized deviance")
            change = max(
                (float(np.max(np.abs(a - b))) for a, b in zip(cu, us, strict=True) if a.size),
                default=0.0,
            )
            if beta_free and cb.size:
                change = max(change, float(np.max(np.abs(cb - beta))))
            us, beta, eta, cache, dev = cu, cb, ceta, ccache, cdata
            # converged on the modes, not on the penalized deviance (flat at the mode, while log|L|
            # is not); with beta free (starting values only) a stalled deviance also stops, as
            # under separation beta drifts off to infinity
            stalled = beta_free and abs(pdev - cdev) < 1e-10 * (1 + abs(cdev))
            pdev = cdev
            # Newton's quadratic convergence: the next change would be about
            # change * (change / last)^2; below tol the modes are final, and the factor at their
            # own weights (for log|L|) replaces the step that would only confirm them
            # (or, below 1e-8, a full step that does not halve the change: Newton is at the
            # rounding floor of the solve, ~1e-10 for Chem97's ordinal model with 2,410 schools,
            # and further steps only jitter)
            final = (
                not beta_free
                and step == 1.0
                and last is not None
                and change < 1e-6
                and (change * (change / last) ** 2 < tol or (change < 1e-8 and change > last / 2))
            )
            if final and not (change < tol):
                w, wres = ev.working(eta, cache)
                f = self._solve(mode, theta, Ts, w, wres, eta, fixed, beta, beta_free)[0]
            last = change if step == 1.0 and change > 0 else None
            if change < tol or stalled or final:
                mu = fam.link.linkinv(eta)
                ss = float(sum(np.dot(u, u) for u in us))
                return PirlsState(us, beta, eta, mu, f, ss, it, dev)
        raise EstimationError(f"PIRLS did not converge in {maxit} iterations")
