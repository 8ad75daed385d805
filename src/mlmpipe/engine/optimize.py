"""Bounded derivative-free minimization of the profiled deviance, with lme4-style checks.

The optimizer is NLopt's BOBYQA (Powell 2009), the default of lme4's ``lmer`` (``nloptwrap``), run
with tighter tolerances than lme4's for parity. If it fails, SciPy's COBYQA (Ragonneau & Zhang 2023)
restarts from the best point, then bounded Nelder-Mead: one chain (``OPTIMIZERS``,
``optimizer_chain``), which the convergence ladder also uses; every fallback is recorded.
After the fit, the gradient and Hessian of the deviance are computed by central differences (as
lme4's ``checkConv``): the fit is flagged as not converged when the scaled gradient ``|H^{-1} g|``
exceeds 0.002 or the Hessian is not positive definite at an interior optimum. A fit is singular
when a diagonal element of a relative covariance factor is within 1e-4 of its bound 0 (lme4's
``isSingular``).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import nlopt
import numpy as np

from mlmpipe.errors import ConvergenceWarning, PlanError, SingularFitWarning

OPTIMIZERS = ("bobyqa", "cobyqa", "nelder-mead")  # the fallback chain, in the order tried
LABELS = {"bobyqa": "BOBYQA", "cobyqa": "COBYQA", "nelder-mead": "Nelder-Mead"}


@dataclass
class OptSummary:
    """How a fit was obtained: start, end, evaluations, tolerances, checks and every fallback."""

    method: str
    theta_start: list[float]
    theta_end: list[float] = field(default_factory=list)
    objective: float = float("nan")
    feval: int = 0
    seconds: float = 0.0
    xtol: float = 1e-8
    fallbacks: list[str] = field(default_factory=list)
    restart_gain: float = 0.0  # deviance decrease achieved by the BOBYQA restart
    max_abs_scaled_grad: float | None = None
    min_hessian_eigenvalue: float | None = None
    converged: bool = True
    singular: bool = False
    messages: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def optimizer_chain(first: str = "bobyqa") -> tuple[str, ...]:
    """The optimizers ``optimize_theta`` tries when it starts with ``first``: ``first`` and, each
    after a failure of the one before, the later ones of ``OPTIMIZERS`` (BOBYQA → COBYQA →
    bounded Nelder-Mead)."""
    if first not in OPTIMIZERS:
        raise PlanError(
            f"optimizer: {first!r} is not allowed; allowed values: {', '.join(OPTIMIZERS)}"
        )
    return OPTIMIZERS[OPTIMIZERS.index(first) :]


def next_optimizer(used: str) -> str | None:
    """The optimizer of the chain after ``used`` (None after the last)."""
    rest = optimizer_chain(used)[1:]
    return rest[0] if rest else None


def restart_point(theta_end: np.ndarray, theta_start: np.ndarray) -> np.ndarray:
    """A restart away from the boundary: the last estimate plus half the default start (each
    diagonal element of the relative covariance factor moves by +1/2, off-diagonals stay)."""
    return np.asarray(theta_end, float) + 0.5 * np.asarray(theta_start, float)


def optimize_theta(
    objective: Callable[[np.ndarray], float],
    theta0: np.ndarray,
    lower: np.ndarray,
    xtol: float = 1e-10,
    maxfev: int = 10_000,
    optimizer: str = "bobyqa",
) -> tuple[np.ndarray, OptSummary]:
    """Minimize ``objective`` over theta subject to ``theta >= lower``.

    Walks ``optimizer_chain(optimizer)``: ``"bobyqa"`` (default; COBYQA then Nelder-Mead as
    recorded fallbacks), ``"cobyqa"`` (Nelder-Mead as fallback) or ``"nelder-mead"`` (bounded).
    Each fallback starts where the failed optimizer left off and is recorded in ``fallbacks``;
    a failure of the last one marks the fit as not converged.
    """
    chain = optimizer_chain(optimizer)
    count = [0]
    best = [np.inf, np.array(theta0, float)]

    def f(x: np.ndarray) -> float:
        count[0] += 1
        v = objective(x)
        if v < best[0]:
            best[0] = v
            best[1] = np.array(x, float)
        return v

    summ = OptSummary(method="", theta_start=list(map(float, theta0)), xtol=xtol)
    t0 = time.perf_counter()
    x = np.maximum(np.array(theta0, float), lower)
    for k, name in enumerate(chain):
        summ.method = "+".join(filter(None, [summ.method, LABELS[name]]))
        x, failure = _ATTEMPTS[name](f, x, lower, xtol, maxfev, best, summ)
        if failure is None:
            break
        if k + 1 < len(chain):
            summ.fallbacks.append(
                f"{LABELS[name]}: {failure}; restarted with {LABELS[chain[k + 1]]}"
            )
        else:
            summ.converged = False
            summ.messages.append(f"{LABELS[name]}: {failure}")
    if best[0] < objective(x):
        x = best[1]
    x = np.maximum(x, lower)
    summ.theta_end = list(map(float, x))
    summ.objective = float(objective(x))
    summ.feval = count[0]
    summ.seconds = time.perf_counter() - t0
    return x, summ


Attempt = Callable[..., tuple[np.ndarray, str | None]]


def _attempt_bobyqa(f, x0, lower, xtol, maxfev, best, summ: OptSummary):
    """BOBYQA, then one restart with a small trust region from its optimum (BOBYQA can stop early
    along a flat direction: seen on InstEval, 5.7e-8 in logLik). On failure the next optimizer
    starts from the best point so far."""
    try:
        x = _bobyqa(f, x0, lower, xtol, maxfev)
        before = best[0]
        x = _bobyqa(f, best[1], lower, xtol, maxfev, step=0.01 * np.maximum(np.abs(x), 0.1))
        summ.restart_gain = float(before - best[0])
        return x, None
    except (RuntimeError, ValueError, nlopt.RoundoffLimited) as err:
        return best[1], str(err)


def _attempt_cobyqa(f, x0, lower, xtol, maxfev, best, summ: OptSummary):
    from scipy.optimize import Bounds, minimize  # deferred for start-up time (0.3 s): fallback only

    res = minimize(
        f,
        x0,
        method="COBYQA",
        bounds=Bounds(lower, np.full_like(lower, np.inf)),
        options={"initial_tr_radius": 0.5, "final_tr_radius": xtol, "maxfev": maxfev},
    )
    return (np.asarray(res.x, float), None) if res.success else (res.x, str(res.message))


def _attempt_nelder_mead(f, x0, lower, xtol, maxfev, best, summ: OptSummary):
    from scipy.optimize import Bounds, minimize  # deferred for start-up time (0.3 s): fallback only

    res = minimize(
        f,
        x0,
        method="Nelder-Mead",
        bounds=Bounds(lower, np.full_like(lower, np.inf)),
        options={"xatol": xtol, "fatol": 1e-10, "maxfev": maxfev},
    )
    return np.asarray(res.x, float), None if res.success else str(res.message)


_ATTEMPTS: dict[str, Attempt] = {
    "bobyqa": _attempt_bobyqa,
    "cobyqa": _attempt_cobyqa,
    "nelder-mead": _attempt_nelder_mead,
}


def _bobyqa(f, x0, lower, xtol, maxfev, step: np.ndarray | None = None) -> np.ndarray:
    opt = nlopt.opt(nlopt.LN_BOBYQA, x0.size)
    if step is not None:
        opt.set_initial_step(step)
    opt.set_min_objective(lambda x, grad: float(f(x)))
    opt.set_lower_bounds(lower)
    opt.set_xtol_abs(xtol)
    opt.set_ftol_abs(1e-12)
    opt.set_ftol_rel(1e-14)
    opt.set_maxeval(maxfev)
    x = opt.optimize(np.maximum(x0, lower))
    if opt.last_optimize_result() == nlopt.MAXEVAL_REACHED:
        raise RuntimeError(f"reached the maximum of {maxfev} evaluations")
    return np.asarray(x, float)


def finite_gradient_hessian(
    f: Callable[[np.ndarray], float], x: np.ndarray, lower: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Central-difference gradient and Hessian (one-sided where a bound is active)."""
    x = np.asarray(x, float)
    k = x.size
    h = 1e-4 * np.maximum(np.abs(x), 0.1)
    f0 = f(x)
    g = np.zeros(k)
    H = np.zeros((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = h[i]
        if x[i] - h[i] < lower[i]:
            f1, f2 = f(x + e), f(x + 2 * e)
            g[i] = (-3 * f0 + 4 * f1 - f2) / (2 * h[i])
            H[i, i] = (f0 - 2 * f1 + f2) / h[i] ** 2
        else:
            fp, fm = f(x + e), f(x - e)
            g[i] = (fp - fm) / (2 * h[i])
            H[i, i] = (fp - 2 * f0 + fm) / h[i] ** 2
    for i in range(k):
        for j in range(i):
            ei = np.zeros(k)
            ej = np.zeros(k)
            ei[i] = h[i]
            ej[j] = h[j]
            if x[i] - h[i] < lower[i] or x[j] - h[j] < lower[j]:
                v = (f(x + ei + ej) - f(x + ei) - f(x + ej) + f0) / (h[i] * h[j])
            else:
                v = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (
                    4 * h[i] * h[j]
                )
            H[i, j] = H[j, i] = v
    return g, H


def check_convergence(
    f: Callable[[np.ndarray], float],
    x: np.ndarray,
    lower: np.ndarray,
    summ: OptSummary,
    singular_tol: float = 1e-4,
    grad_tol: float = 2e-3,
    derivs: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Fill ``summ.singular``, ``summ.converged`` and the gradient/Hessian diagnostics in place;
    return the finite-difference gradient and Hessian (lme4 reuses them for a GLMM's ``vcov``).
    ``derivs`` passes an already computed (gradient, Hessian)."""
    on_bound = (lower == 0) & (x < singular_tol)
    summ.singular = bool(np.any(on_bound))
    g, H = finite_gradient_hessian(f, x, lower) if derivs is None else derivs
    free = ~on_bound
    if not (np.all(np.isfinite(H)) and np.all(np.isfinite(g))):  # e.g. estimates running off
        summ.converged = False  # to infinity under separation
        summ.messages.append(
            "model failed to converge: the deviance is not finite near the estimates "
            "(finite-difference gradient/Hessian undefined)"
        )
    elif np.any(free):
        Hf = H[np.ix_(free, free)]
        gf = g[free]
        eig = np.linalg.eigvalsh(Hf)
        summ.min_hessian_eigenvalue = float(eig.min())
        try:
            scaled = np.linalg.solve(Hf, gf)
        except np.linalg.LinAlgError:
            scaled = gf
        summ.max_abs_scaled_grad = float(np.max(np.abs(scaled)))
        if summ.max_abs_scaled_grad > grad_tol:
            summ.converged = False
            summ.messages.append(
                f"model failed to converge: max|scaled gradient| = {summ.max_abs_scaled_grad:.3g}"
                f" > {grad_tol}"
            )
        if eig.min() <= 0 and not summ.singular:
            summ.converged = False
            summ.messages.append(
                "model failed to converge: Hessian of the deviance is not positive definite"
            )
    return g, H


SINGULAR_MESSAGE = "boundary (singular) fit: a variance is estimated as 0 or a correlation as +-1"


def report_problems(summ: OptSummary, msgs: list[str], stacklevel: int = 3) -> None:
    """Warn about a singular fit and failed convergence checks, and append them and every
    optimizer fallback to ``msgs`` (the result's ``warnings``): nothing is silent."""
    if summ.singular:
        warnings.warn(SINGULAR_MESSAGE, SingularFitWarning, stacklevel=stacklevel)
        msgs.append(SINGULAR_MESSAGE)
    for msg in summ.messages:
        warnings.warn(msg, ConvergenceWarning, stacklevel=stacklevel)
        msgs.append(msg)
    msgs.extend(summ.fallbacks)
