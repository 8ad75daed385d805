"""Profile-likelihood confidence intervals for the variance parameters of a linear mixed model.

The parameters are the random-effect SDs, the correlations within each vector-valued term and
the residual SD sigma (:mod:`mlmpipe.inference.varpar`, lme4's ``sd_...``, ``cor_...``,
``sigma``). For one of them, psi, the profiled deviance ``d_p(psi)`` is the minimum of the deviance
``d(theta, sigma)`` (beta profiled out in the penalized least-squares solution) over all the other
SDs, correlations and sigma with psi held fixed, and the interval is

    {psi : d_p(psi) - d(theta_hat, sigma_hat) <= chi^2_1(level)}

(Venzon & Moolgavkar 1988; Bates et al. 2015, J. Stat. Softw. 67(1), sec. 5.1). This is what
lme4's ``confint(method = "profile")`` estimates; lme4 evaluates the profile on a grid and
inverts a spline through it, here each limit is a root found by Brent's method, each evaluation a
bounded quasi-Newton minimization warm-started from the nearest point already profiled.

As in lme4, the ML deviance is profiled around the ML estimates also for a REML fit
(``criterion="ml"``); ``criterion="fit"`` profiles the fit's own criterion. Where the profile
stays under the cut-off up to a parameter's bound, the limit is that bound, as lme4's
``confint.thpr`` does: 0 for an SD (e.g. a random-slope SD estimated near zero), -1 or 1 for a
correlation; an SD or sigma whose profile never reaches the cut-off above gets ``inf``.
"""

from __future__ import annotations

import nlopt
import numpy as np
import pandas as pd
from scipy import optimize, stats

from mlmpipe.engine.fit import fit_design
from mlmpipe.inference.varpar import VarPar
from mlmpipe.record import FitRecord
from mlmpipe.record.restore import restore


class _Profiler:
    """The profiled deviance of one variance parameter, with warm starts along the profile."""

    def __init__(self, model, vp: VarPar, s_hat: np.ndarray, w: int) -> None:
        self.model, self.vp, self.w = model, vp, w
        self.free = [k for k in range(len(s_hat)) if k != w]
        sigma = float(s_hat[-1])
        # scale: SDs and sigma relative to their size (SDs at 0 relative to sigma), cors as they are
        sc = np.ones(len(s_hat))
        for k, kind in enumerate(vp.kinds):
            if kind != "cor":
                sc[k] = s_hat[k] if s_hat[k] > 1e-3 * sigma else sigma
        self.scale = sc[self.free]
        lo, hi = vp.lower(), vp.upper()
        lo[-1] = 1e-6 * sigma
        self.bounds = [
            (lo[k] / sc[k], None if np.isinf(hi[k]) else hi[k] / sc[k]) for k in self.free
        ]
        self.s_hat = s_hat
        self.done: list[tuple[float, np.ndarray]] = [
            (float(s_hat[w]), s_hat[self.free] / self.scale)
        ]

    def deviance(self, s: np.ndarray) -> float:
        theta = self.vp.to_theta(s)
        if theta is None:
            return np.inf
        try:
            return float(self.model.deviance_varpar(np.append(theta, s[-1])))
        except np.linalg.LinAlgError:
            return np.inf

    def start(self, value: float) -> np.ndarray:
        """Linear extrapolation of the optimum from the two profiled points nearest ``value``."""
        near = sorted(self.done, key=lambda d: abs(d[0] - value))[:2]
        if len(near) < 2 or near[0][0] == near[1][0]:
            return near[0][1]
        (va, xa), (vb, xb) = near
        x = xa + (xb - xa) * (value - va) / (vb - va)
        lo = np.array([-np.inf if b[0] is None else b[0] for b in self.bounds])
        hi = np.array([np.inf if b[1] is None else b[1] for b in self.bounds])
        return np.clip(x, lo, hi)

    def __call__(self, value: float) -> float:
        s = self.s_hat.copy()
        s[self.w] = value

        def f(x: np.ndarray) -> float:
            s[self.free] = x * self.scale
            return self.deviance(s)

        if not self.free:
            return f(np.empty(0))
        x, fx = _bobyqa(f, self.start(value), self.bounds)
        self.done.append((value, x))
        return fx


def _bobyqa(f, x0: np.ndarray, bounds: list) -> tuple[np.ndarray, float]:
    """Minimize ``f`` from ``x0`` (a close warm start) by NLopt's BOBYQA, as lme4's profile does."""
    lo = np.array([-np.inf if b[0] is None else b[0] for b in bounds])
    hi = np.array([np.inf if b[1] is None else b[1] for b in bounds])
    x0 = np.clip(x0, lo, hi)
    if x0.size == 1:  # BOBYQA needs two or more dimensions
        r = optimize.minimize_scalar(
            lambda v: f(np.array([v])),
            bounds=(lo[0], min(hi[0], x0[0] + 10.0)),
            method="bounded",
            options={"xatol": 1e-9},
        )
        return np.array([r.x]), float(r.fun)
    best = [np.inf, x0]

    def g(x: np.ndarray, grad) -> float:
        v = f(x)
        if v < best[0]:
            best[0], best[1] = v, np.array(x, float)
        return v if np.isfinite(v) else 1e100  # outside the PSD set: rejected, not fatal

    opt = nlopt.opt(nlopt.LN_BOBYQA, x0.size)
    opt.set_min_objective(g)
    opt.set_lower_bounds(lo)
    opt.set_upper_bounds(hi)
    opt.set_initial_step(0.02)
    opt.set_xtol_abs(1e-9)
    opt.set_ftol_abs(1e-11)
    opt.set_maxeval(5000)
    try:
        opt.optimize(x0)
    except nlopt.RoundoffLimited:  # the best point so far is as good as the arithmetic allows
        pass
    return best[1], float(best[0])


def _limit(zeta, est: float, bound: float, step: float, target: float) -> float:
    """Where ``zeta(v) = sqrt(d_p(v) - d_min)`` (0 at ``est``) reaches ``target`` between ``est`` and
    ``bound``, by the secant method on (nearly linear) zeta, safeguarded by bisection once the
    root is bracketed; ``bound`` when zeta stays below ``target`` up to it."""
    direction = np.sign(bound - est)
    if direction == 0:
        return bound
    tol = 1e-9 * step
    pts = [(est, -target)]  # (v, zeta(v) - target)
    v = est + direction * min(step, 0.5 * abs(bound - est))
    inside = (est, None)  # last point below target, first point above it
    for _ in range(60):
        g = zeta(v) - target
        pts.append((v, g))
        if abs(g) < 1e-7:
            return float(v)
        if g < 0:
            inside = (v, inside[1])
        else:
            inside = (inside[0], v)
        (v0, g0), (v1, g1) = pts[-2], pts[-1]
        nxt = v1 - g1 * (v1 - v0) / (g1 - g0) if g1 != g0 else np.nan
        a, b = inside
        if b is not None:
            if not (min(a, b) < nxt < max(a, b)):
                nxt = 0.5 * (a + b)
            if abs(b - a) < tol:
                return float(0.5 * (a + b))
        else:
            far = a + direction * 4 * abs(a - est)
            if not np.isfinite(nxt) or direction * (nxt - a) <= 0 or direction * (nxt - far) > 0:
                nxt = far
            if direction * (nxt - bound) >= 0:
                if np.isfinite(bound):
                    if zeta(bound) - target <= 0:
                        return bound
                    nxt = 0.5 * (a + bound)
                    inside = (a, bound)
                elif abs(nxt - est) > 1e6 * step:
                    return bound
        v = nxt
    raise RuntimeError(f"profile: no limit found between {est} and {bound}")


def profile_intervals(
    rec: FitRecord, data: pd.DataFrame, level: float = 0.95, criterion: str = "ml"
) -> list[dict]:
    """Profile intervals of every SD, correlation and sigma of the LMM ``rec`` fitted to ``data``.

    One row per parameter in lme4's order (``confint(m, method = "profile", oldNames = FALSE)``)
    with the estimate on the profiled scale (the ML estimate for ``criterion="ml"``), the limits,
    and whether each limit is the parameter's bound (``low_at_bound``, ``high_at_bound``).
    The deviance is that of the restored model (:func:`mlmpipe.record.restore`) at the record's
    theta and sigma; the profiled criterion's own estimates are refitted from the record's theta
    when it is not the fit's (ML for a REML fit), the record has no sigma, or it is pooled over
    imputations (no single data set has its estimates).
    """
    if criterion not in ("ml", "fit"):
        raise ValueError(f"profile criterion: {criterion!r} is not one of 'ml', 'fit'")
    if not rec.family.is_gaussian:
        raise ValueError(
            f"profile: {rec.label} is a {rec.family.name} GLMM, not a linear mixed model"
        )
    if rec.residual:
        raise ValueError(
            f"profile: {rec.label} has a residual structure ({rec.residual.get('correlation') or ''}"
            f"{' varIdent' if rec.residual.get('variance') else ''}); its residual parameters "
            "have Wald intervals (residual-structure table)"
        )
    reml = rec.reml and criterion == "fit"
    if reml != rec.reml or rec.sigma is None or rec.is_pooled:
        own = fit_design(rec.design(data), reml=reml, df_method="none", theta0=rec.theta)
        model, theta, sigma = own.model, np.asarray(own.theta, float), float(own.sigma)
    else:
        model = restore(rec, data).model
        theta, sigma = np.asarray(rec.theta, float), float(rec.sigma)
    vp = VarPar(model)
    s_hat = vp.from_theta(theta, sigma)
    d0 = float(model.objective(theta))
    crit = float(stats.chi2.ppf(level, 1))
    lower, upper = vp.lower(), vp.upper()
    lower[-1] = 1e-3 * sigma  # sigma's bound 0 is never reached: bisect towards a point above it
    method = "profile likelihood (" + ("REML" if reml else "ML") + " deviance)"
    out = []
    for w, (name, kind) in enumerate(zip(vp.names, vp.kinds, strict=True)):
        prof = _Profiler(model, vp, s_hat, w)

        def zeta(v: float, prof=prof) -> float:
            return float(np.sqrt(max(prof(v) - d0, 0.0)))

        est = float(s_hat[w])
        step = 0.25 if kind == "cor" else 0.25 * (est if est > 1e-3 * sigma else sigma)
        target = float(np.sqrt(crit))
        lo = _limit(zeta, est, float(lower[w]), step, target)
        hi = _limit(zeta, est, float(upper[w]), step, target)
        out.append(
            {
                "parameter": name,
                "kind": kind,
                "estimate": est,
                "low": lo,
                "high": hi,
                "low_at_bound": bool(lo == lower[w]),
                "high_at_bound": bool(hi == upper[w]),
                "level": level,
                "method": method,
            }
        )
    return out


def profile_sequence(
    models: list[str], fits: dict[str, FitRecord], data: pd.DataFrame, level: float = 0.95
) -> dict:
    """Profile intervals for every model of a sequence; a model whose profile cannot be computed
    (e.g. correlations of three or more random effects leaving the positive semidefinite set) is
    listed under ``skipped`` with the reason."""
    out: dict = {"level": level, "models": {}, "skipped": {}}
    for m in models:
        family = fits[m].family
        if not family.is_gaussian:
            out["skipped"][m] = f"{family.name} GLMM: profile intervals are for linear mixed models"
            continue
        try:
            out["models"][m] = profile_intervals(fits[m], data, level)
        except (ValueError, RuntimeError, np.linalg.LinAlgError) as exc:
            out["skipped"][m] = str(exc).splitlines()[0]
    return out


def profile_table(prof: dict) -> pd.DataFrame:
    rows = [{"model": m, **r} for m, rs in prof["models"].items() for r in rs]
    return pd.DataFrame(rows)
