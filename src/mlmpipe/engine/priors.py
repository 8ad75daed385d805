"""Priors on random-effect covariances for Bayesian modal estimation (posterior mode over theta).

Bayesian modal estimation (Chung, Rabe-Hesketh, Dorie, Gelman & Liu 2013, Psychometrika 78(4),
685-709; Chung et al. 2015, J. Educ. Behav. Stat. 40(2)) minimises the penalised profiled
criterion

    d_prior(theta) = d(theta) + sum_k  -2 log p_k(Sigma_k / sigma^2)

where ``d`` is the profiled (RE)ML deviance of :mod:`mlmpipe.engine.lmm` and ``Sigma_k / sigma^2
= T_k T_k'`` is term k's *relative* covariance (``T_k`` its lower Cholesky factor, the theta
block). The priors are on the relative covariance ("common scale"), as R's ``blme`` does by
default (Dorie's ``blmer``/``bglmer``, ``common.scale = TRUE``): sigma^2 is then still profiled
out in closed form, and the penalty depends on theta only. For a GLMM without a scale parameter
the relative and the absolute covariance coincide.

Penalties, each ``-2 log density`` including the normalising constant as blme writes it
(``q`` the term's dimension, ``t_ii`` the diagonal of ``T``):

- ``Wishart(df, scale)`` on ``T T'``: ``-(df-q-1) 2 sum log t_ii + tr(S^{-1} T T') + df (q log 2 +
  log|S|) + q(q-1)/2 log pi + 2 sum_i lgamma((df+1-i)/2)``. blme's default, ``df = q + 2.5`` with
  ``scale = inf`` (``S^{-1} = 0``), leaves ``-2 (df-q-1) sum log t_ii = -3 sum log t_ii``: the
  density vanishes on the boundary, so the mode is never singular. For ``q = 1`` this is a
  gamma(2.5, rate 0) prior on the relative SD (blme's ``gamma()`` default), close to Chung et al.'s
  gamma(2, 1/inf).
- ``InvWishart(df, scale)``: ``(df+q+1) 2 sum log t_ii + tr(S (T T')^{-1}) + df (q log 2 - log|S|)
  + q(q-1)/2 log pi + 2 sum_i lgamma((df+1-i)/2)``; blme's default ``df = q - 0.998``,
  ``S = (df + 0.1) I``.
- ``Gamma(shape, rate)`` on the relative SD ``t`` (``parameter="sd"``) or variance ``t^2``
  (``parameter="var"``), scalar terms only: ``-2 (shape-1) log x + 2 rate x - 2 (shape log rate -
  lgamma(shape))`` at ``x = t`` or ``t^2``; blme's default shape 2.5, rate 0.
- ``InvGamma(shape, scale)``: ``2 (shape+1) log x + 2 scale / x - 2 (shape log scale -
  lgamma(shape))``; blme's default shape 0.001, scale shape + 0.05, on the variance.
- ``HalfT(df, scale)`` on each relative SD ``sqrt((T T')_ii)`` (half-Cauchy at ``df = 1``; Gelman
  2006): ``(df+1) log(1 + s^2/(df scale^2)) - 2 log c`` with ``c`` the half-t density's constant.
  Its density is largest at 0, so unlike the others it does not keep the mode off the boundary.

Constants vanish where blme drops them (improper priors: zero rate or infinite scale).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from mlmpipe.errors import PlanError

#: the names a prior is chosen by (plan ``estimation.prior``, ``mlmpipe.fit(prior=...)``)
COV_PRIORS = ("wishart", "invwishart", "gamma", "invgamma", "half_t", "half_cauchy", "none")


def _lgamma_sum(df: float, q: int) -> float:
    return 0.5 * q * (q - 1) * math.log(math.pi) + sum(
        2.0 * math.lgamma(0.5 * (df + 1 - i)) for i in range(1, q + 1)
    )


def _scale_matrix(scale: Any, q: int, what: str) -> np.ndarray:
    """A scale given as a number (times I), a vector (diagonal) or a q x q matrix."""
    S = np.asarray(scale, dtype=float)
    if S.ndim == 0:
        S = np.eye(q) * float(S)
    elif S.ndim == 1:
        if S.size != q:
            raise PlanError(f"estimation.prior: {what} scale has {S.size} values, the term {q}")
        S = np.diag(S)
    if S.shape != (q, q) or not np.allclose(S, S.T):
        raise PlanError(f"estimation.prior: {what} scale must be a symmetric {q} x {q} matrix")
    if np.any(np.linalg.eigvalsh(S) <= 0):
        raise PlanError(f"estimation.prior: {what} scale must be positive definite")
    return S


def _log_diag(T: np.ndarray) -> float:
    d = np.diag(T)
    if np.any(d <= 0):
        return -math.inf
    return float(np.sum(np.log(d)))


@dataclass(frozen=True)
class Wishart:
    """Wishart prior on the relative covariance ``T T'``; ``df=None`` is ``q + 2.5`` and
    ``scale=None`` an infinite scale (blme's default ``wishart()``)."""

    df: float | None = None
    scale: Any = None

    def penalty_fn(self, q: int) -> Callable[[np.ndarray], float]:
        df = q + 2.5 if self.df is None else float(self.df)
        if df <= q - 1:
            raise PlanError(f"estimation.prior: wishart df must exceed {q - 1} (got {df})")
        if self.scale is None or (np.ndim(self.scale) == 0 and math.isinf(float(self.scale))):
            Sinv, const = None, 0.0
        else:
            S = _scale_matrix(self.scale, q, "wishart")
            Sinv = np.linalg.inv(S)
            const = df * (q * math.log(2.0) + np.linalg.slogdet(S)[1]) + _lgamma_sum(df, q)

        def pen(T: np.ndarray) -> float:
            ld = _log_diag(T)
            if ld == -math.inf:
                return math.inf
            out = -2.0 * (df - q - 1) * ld + const
            if Sinv is not None:
                out += float(np.sum(Sinv * (T @ T.T)))
            return out

        return pen


@dataclass(frozen=True)
class InvWishart:
    """Inverse-Wishart prior on ``T T'``; ``df=None`` is ``q - 0.998``, ``scale=None`` is
    ``(df + 0.1) I`` (blme's default ``invwishart()``)."""

    df: float | None = None
    scale: Any = None

    def penalty_fn(self, q: int) -> Callable[[np.ndarray], float]:
        df = q - 0.998 if self.df is None else float(self.df)
        if df <= q - 1:
            raise PlanError(f"estimation.prior: invwishart df must exceed {q - 1} (got {df})")
        S = _scale_matrix(df + 0.1 if self.scale is None else self.scale, q, "invwishart")
        const = df * (q * math.log(2.0) - np.linalg.slogdet(S)[1]) + _lgamma_sum(df, q)

        def pen(T: np.ndarray) -> float:
            ld = _log_diag(T)
            if ld == -math.inf:
                return math.inf
            Ti = np.linalg.inv(T)
            return 2.0 * (df + q + 1) * ld + float(np.sum(S * (Ti.T @ Ti))) + const

        return pen


def _check_scale_kind(kind: str, what: str) -> None:
    if kind not in ("sd", "var"):
        raise PlanError(f"estimation.prior: {what} parameter must be 'sd' or 'var' (got {kind!r})")


@dataclass(frozen=True)
class Gamma:
    """Gamma(shape, rate) prior on a scalar term's relative SD (``parameter="sd"``) or variance."""

    shape: float = 2.5
    rate: float = 0.0
    parameter: str = "sd"

    def penalty_fn(self, q: int) -> Callable[[np.ndarray], float]:
        _scalar_only(q, "gamma")
        _check_scale_kind(self.parameter, "gamma")
        if self.shape <= 0 or self.rate < 0:
            raise PlanError("estimation.prior: gamma needs shape > 0 and rate >= 0")
        shape, rate, power = float(self.shape), float(self.rate), 1 if self.parameter == "sd" else 2
        const = 0.0 if rate == 0 else -2.0 * (shape * math.log(rate) - math.lgamma(shape))

        def pen(T: np.ndarray) -> float:
            t = float(T[0, 0])
            if t <= 0:
                return math.inf if shape > 1 else (-math.inf if shape < 1 else const)
            x = t**power
            return -2.0 * (shape - 1) * math.log(x) + 2.0 * rate * x + const

        return pen


@dataclass(frozen=True)
class InvGamma:
    """Inverse-gamma(shape, scale) prior on a scalar term's relative variance (``parameter="var"``,
    blme's default) or SD; ``scale=None`` is ``shape + 0.05``."""

    shape: float = 0.001
    scale: float | None = None
    parameter: str = "var"

    def penalty_fn(self, q: int) -> Callable[[np.ndarray], float]:
        _scalar_only(q, "invgamma")
        _check_scale_kind(self.parameter, "invgamma")
        scale = self.shape + 0.05 if self.scale is None else float(self.scale)
        if self.shape <= 0 or scale <= 0:
            raise PlanError("estimation.prior: invgamma needs shape > 0 and scale > 0")
        shape, power = float(self.shape), 1 if self.parameter == "sd" else 2
        const = -2.0 * (shape * math.log(scale) - math.lgamma(shape))

        def pen(T: np.ndarray) -> float:
            t = float(T[0, 0])
            if t <= 0:
                return math.inf
            x = t**power
            return 2.0 * (shape + 1) * math.log(x) + 2.0 * scale / x + const

        return pen


@dataclass(frozen=True)
class HalfT:
    """Half-t(df, scale) prior on each relative SD of a term (half-Cauchy: ``df=1``); the
    correlations get a flat prior."""

    df: float = 3.0
    scale: float = 1.0

    def penalty_fn(self, q: int) -> Callable[[np.ndarray], float]:
        if self.df <= 0 or self.scale <= 0:
            raise PlanError("estimation.prior: half_t needs df > 0 and scale > 0")
        nu, s = float(self.df), float(self.scale)
        logc = (
            math.log(2.0)
            + math.lgamma(0.5 * (nu + 1))
            - math.lgamma(0.5 * nu)
            - 0.5 * math.log(nu * math.pi)
            - math.log(s)
        )

        def pen(T: np.ndarray) -> float:
            v = np.sum(T * T, axis=1)  # (T T')_ii
            return float(np.sum((nu + 1) * np.log1p(v / (nu * s * s)))) - 2.0 * q * logc

        return pen


def _scalar_only(q: int, name: str) -> None:
    if q != 1:
        raise PlanError(
            f"estimation.prior: {name} is a prior on one SD; a term with {q} random effects "
            "needs wishart, invwishart or half_t"
        )


CovPrior = Wishart | InvWishart | Gamma | InvGamma | HalfT


@dataclass(frozen=True)
class FixefNormal:
    """Normal prior on the fixed effects, ``beta ~ N(0, sigma^2 diag(sd^2))`` for an LMM (blme's
    ``normal()`` with ``common.scale = TRUE``) and ``N(0, diag(sd^2))`` for a GLMM. ``sd``: one
    value for every coefficient, two (the first column, then every other; blme's default
    ``c(10, 2.5)``), or one per coefficient."""

    sd: Any = (10.0, 2.5)

    def variances(self, p: int) -> np.ndarray:
        sd = np.atleast_1d(np.asarray(self.sd, dtype=float))
        if sd.size == 0 or np.any(sd <= 0) or not np.all(np.isfinite(sd)):
            raise PlanError("estimation.prior.fixef: normal sd must be positive and finite")
        if sd.size == 2 and p > 2:
            sd = np.concatenate([sd[:1], np.full(p - 1, sd[1])])
        elif sd.size not in (1, p) and not (sd.size == 2 and p <= 2):
            raise PlanError(
                f"estimation.prior.fixef: normal sd has {sd.size} values; the model has {p} "
                "fixed effects (give 1, 2 or that many)"
            )
        return np.resize(sd, p) ** 2


@dataclass(frozen=True)
class PriorSpec:
    """The priors of one Bayesian modal fit: ``cov`` for every term without an entry in
    ``by_group`` (grouping-factor name -> prior; None: no prior on that term)."""

    cov: CovPrior | None = field(default_factory=Wishart)
    by_group: Mapping[str, CovPrior | None] = field(default_factory=dict)
    fixef: FixefNormal | None = None
    #: the multiverse's prior-sensitivity alternative (:func:`widened`) of every covariance prior
    wider: bool = False

    def describe(self) -> str:
        """The priors in words, for the fit record and the methods text."""
        parts = [f"every term: {_prior_text(self.cov)}"]
        parts += [f"{g}: {_prior_text(p)}" for g, p in self.by_group.items()]
        if self.fixef is not None:
            sd = np.atleast_1d(np.asarray(self.fixef.sd, dtype=float))
            parts.append("fixed effects: normal(0, SD " + ", ".join(f"{v:g}" for v in sd) + ")")
        text = "; ".join(parts)
        return f"wider than {text} ({WIDER_TEXT})" if self.wider else text


#: What the ``wider`` alternative of a prior is, in words (methods text, decision log).
WIDER_TEXT = (
    "every finite prior scale doubled on the SD scale, fixed-effect SDs doubled; an infinite-scale "
    "prior replaced by the weakest that keeps the mode off the boundary: Wishart df q + 2, "
    "gamma shape 2 (Chung et al. 2013)"
)


def widened(p: CovPrior | None, q: int) -> CovPrior | None:
    """The prior-sensitivity alternative of ``p`` for a term with ``q`` random effects: scales
    doubled on the SD scale (x4 on a variance or covariance scale, rates halved on an SD, /4 on a
    variance); a prior with an infinite scale (blme's Wishart, gamma with rate 0) has no scale to
    widen and becomes the weakest prior that still keeps the posterior mode off the boundary,
    ``-2 sum log t_ii`` (Wishart df ``q + 2``; gamma shape 2 on an SD; Chung et al. 2013,
    Psychometrika 78(4), sec. 3)."""
    if p is None:
        return None
    if isinstance(p, Wishart):
        df = q + 2.5 if p.df is None else float(p.df)
        if p.scale is None or (np.ndim(p.scale) == 0 and math.isinf(float(p.scale))):
            return Wishart(df=min(df, q + 2.0), scale=None)
        return Wishart(df=df, scale=(4.0 * np.asarray(p.scale, dtype=float)).tolist())
    if isinstance(p, InvWishart):
        df = q - 0.998 if p.df is None else float(p.df)
        scale = df + 0.1 if p.scale is None else p.scale
        return InvWishart(df=df, scale=(4.0 * np.asarray(scale, dtype=float)).tolist())
    power = 1.0 if getattr(p, "parameter", "sd") == "sd" else 2.0
    if isinstance(p, Gamma):
        if p.rate == 0:
            return replace(p, shape=min(float(p.shape), 2.0 if power == 1 else 1.5))
        return replace(p, rate=float(p.rate) / 2.0**power)
    if isinstance(p, InvGamma):
        scale = p.shape + 0.05 if p.scale is None else float(p.scale)
        return replace(p, scale=scale * 2.0**power)
    if isinstance(p, HalfT):
        return replace(p, scale=2.0 * float(p.scale))
    raise TypeError(f"no wider version of {p!r}")


def _prior_text(p: CovPrior | None) -> str:
    """One covariance prior in words, with blme's defaults spelled out."""
    if p is None:
        return "no prior"
    if isinstance(p, Wishart):
        df = "q + 2.5" if p.df is None else f"{p.df:g}"
        scale = "infinite scale" if p.scale is None else f"scale {np.asarray(p.scale).tolist()}"
        return f"Wishart (df {df}, {scale}) on the relative covariance"
    if isinstance(p, InvWishart):
        df = "q - 0.998" if p.df is None else f"{p.df:g}"
        scale = "(df + 0.1) I" if p.scale is None else f"{np.asarray(p.scale).tolist()}"
        return f"inverse Wishart (df {df}, scale {scale}) on the relative covariance"
    if isinstance(p, Gamma):
        return f"gamma (shape {p.shape:g}, rate {p.rate:g}) on each relative {'SD' if p.parameter == 'sd' else 'variance'}"
    if isinstance(p, InvGamma):
        scale = "shape + 0.05" if p.scale is None else f"{p.scale:g}"
        return f"inverse gamma (shape {p.shape:g}, scale {scale}) on each relative {'SD' if p.parameter == 'sd' else 'variance'}"
    if isinstance(p, HalfT):
        if p.df == 1:
            return f"half-Cauchy (scale {p.scale:g}) on each relative SD"
        return f"half-t (df {p.df:g}, scale {p.scale:g}) on each relative SD"
    return repr(p)


_BY_NAME: dict[str, type] = {
    "wishart": Wishart,
    "invwishart": InvWishart,
    "gamma": Gamma,
    "invgamma": InvGamma,
    "half_t": HalfT,
}


def cov_prior_from(spec: Any) -> CovPrior | None:
    """One covariance prior from a name (``"wishart"``), a mapping ``{"type": "gamma", "shape":
    2, "rate": 0.5}`` or an instance."""
    if spec is None or isinstance(spec, Wishart | InvWishart | Gamma | InvGamma | HalfT):
        return spec
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, Mapping) or "type" not in spec:
        raise PlanError(
            f"estimation.prior: a covariance prior is a name or a mapping with 'type'; got {spec!r}"
        )
    args = dict(spec)
    kind = str(args.pop("type"))
    if kind == "none":
        return None
    if kind == "blme":
        kind = "wishart"
    if kind == "half_cauchy":
        kind = "half_t"
        args.setdefault("df", 1.0)
    if kind not in _BY_NAME:
        raise PlanError(
            f"estimation.prior: unknown prior {kind!r}; allowed: {', '.join(COV_PRIORS)}"
        )
    try:
        return _BY_NAME[kind](**args)
    except TypeError as e:
        raise PlanError(f"estimation.prior: {kind}: {e}") from None


def resolve_prior(prior: Any) -> PriorSpec:
    """A ``PriorSpec`` from ``"blme"`` (blme's defaults: Wishart on every term), a prior name,
    a ``PriorSpec``, or a mapping ``{"cov": <prior>, "by_group": {"school": <prior>}, "fixef":
    "normal" | {"type": "normal", "sd": [10, 2.5]}}``."""
    if isinstance(prior, PriorSpec):
        return prior
    if prior == "blme":
        return PriorSpec()
    if isinstance(prior, Mapping) and prior.get("cov") == "blme":
        prior = {**prior, "cov": "wishart"}
    if isinstance(prior, str):
        return PriorSpec(cov=cov_prior_from(prior))
    if isinstance(prior, Mapping):
        if "type" in prior:  # a single covariance prior given as a mapping
            return PriorSpec(cov=cov_prior_from(prior))
        unknown = set(prior) - {"cov", "by_group", "fixef", "wider"}
        if unknown:
            raise PlanError(
                f"estimation.prior: unknown key(s) {', '.join(sorted(unknown))}; "
                "allowed: cov, by_group, fixef, wider"
            )
        by = {str(g): cov_prior_from(p) for g, p in dict(prior.get("by_group") or {}).items()}
        wider = bool(prior.get("wider", False))
        fixef = fixef_prior_from(prior.get("fixef"))
        if wider and fixef is not None:
            fixef = FixefNormal(sd=(2.0 * np.atleast_1d(np.asarray(fixef.sd, float))).tolist())
        return PriorSpec(
            cov=cov_prior_from(prior.get("cov", "wishart")), by_group=by, fixef=fixef, wider=wider
        )
    raise PlanError(f"estimation.prior: cannot read a prior from {prior!r}")


def wider_prior_config(prior: Any) -> dict:
    """``estimation.prior`` of the multiverse's ``prior: wider`` specification: the plan's prior
    (a name, one prior mapping or ``{cov, by_group, fixef}``) with ``wider: true``."""
    if prior is None or prior == "blme":
        return {"cov": "wishart", "wider": True}
    if isinstance(prior, str) or (isinstance(prior, Mapping) and "type" in prior):
        return {"cov": prior, "wider": True}
    return {**dict(prior), "wider": True}


def fixef_prior_from(spec: Any) -> FixefNormal | None:
    """A fixed-effect prior from None, ``"normal"``, ``{"type": "normal", "sd": ...}``."""
    if spec is None or isinstance(spec, FixefNormal):
        return spec
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, Mapping) or spec.get("type") != "normal":
        raise PlanError(f"estimation.prior.fixef: allowed: normal (with sd); got {spec!r}")
    args = {k: v for k, v in spec.items() if k != "type"}
    if set(args) - {"sd"}:
        raise PlanError("estimation.prior.fixef: normal takes only sd")
    return FixefNormal(**args)


def term_penalties(spec: PriorSpec, reterms: list) -> list[Callable[[np.ndarray], float] | None]:
    """One penalty function of ``T`` per random-effects term (reporting order), or None."""
    groups = {r.term.group for r in reterms} | {getattr(r, "name", "") for r in reterms}
    for g in spec.by_group:
        if g not in groups:
            raise PlanError(
                f"estimation.prior.by_group: {g!r} is not a grouping factor of the model "
                f"(factors: {', '.join(sorted(r.term.group for r in reterms))})"
            )
    out = []
    for r in reterms:
        name = getattr(r, "name", r.term.group)
        if name in spec.by_group:
            p = spec.by_group[name]
        elif r.term.group in spec.by_group:
            p = spec.by_group[r.term.group]
        else:
            p = spec.cov
        if spec.wider:
            p = widened(p, r.q)
        out.append(None if p is None else p.penalty_fn(r.q))
    return out


def prior_penalty(spec: PriorSpec, model) -> Callable[[np.ndarray], float]:
    """``theta -> sum_k -2 log p_k(T_k T_k')`` for a model with ``reterms`` and ``theta_index``
    (:class:`mlmpipe.engine.lmm.LinearMixedModel`)."""
    pens = term_penalties(spec, model.reterms)
    idx = model.theta_index

    def penalty(theta: np.ndarray) -> float:
        th = np.asarray(theta, float)
        total = 0.0
        for r, sl, pen in zip(model.reterms, idx, pens, strict=True):
            if pen is not None:
                total += pen(r.T(th[sl]))
        return total

    return penalty


def penalised(objective: Callable[[np.ndarray], float], penalty) -> Callable:
    """The posterior-mode criterion ``objective(theta) + penalty(theta)``."""

    def f(theta: np.ndarray) -> float:
        p = penalty(theta)
        if not math.isfinite(p):
            return math.inf
        return objective(theta) + p

    return f


def penalised_at(objective: Callable[[np.ndarray], float], penalty, ntheta: int) -> Callable:
    """``objective(par) + penalty(par[:ntheta])`` for objectives in (theta, beta, ...) (GLMMs)."""

    def f(par: np.ndarray) -> float:
        p = penalty(np.asarray(par, float)[:ntheta])
        if not math.isfinite(p):
            return math.inf
        return objective(par) + p

    return f


class LmmFixefPrior:
    """An LMM's criterion under a normal prior ``beta ~ N(0, sigma^2 V)`` (blme's ``normal()``,
    common scale): ``V^{-1}`` is added to the ``X'X`` block of the model's cross-products, so
    every factorization solves the penalised least-squares problem, ``r^2`` includes
    ``beta' V^{-1} beta`` and ``R_X`` is the penalised factor. Profiling sigma then gives
    ``sigma^2 = r^2 / (n - p_REML + p)`` and (``p_REML`` = p for REML, 0 for ML)

        d = 2 log|L_theta| [+ 2 log|R_X|] + r^2/sigma^2 + (n - p_REML) log(2 pi sigma^2)
            + p log(2 pi sigma^2) + log|V|,

    the deviance plus ``-2 log N(beta; 0, sigma^2 V)`` (which is blme's deviance function). The
    model is changed in place: build it for this fit only. Its ``deviance_from`` (the result's
    ``criterion``, ``loglik``) and the Satterthwaite df then refer to the model with the prior's
    pseudo-data, not to the likelihood of the data alone; ``penalised_criterion`` is the
    criterion that was minimised."""

    def __init__(self, model, prior: FixefNormal) -> None:
        self.model = model
        p = model.p
        V = prior.variances(p)
        K = model.K
        model.A[K][K][:p, :p] += np.diag(1.0 / V)
        model._crossed = None  # the dense factorization, which reads the changed block
        self.logdet_v = float(np.sum(np.log(V)))
        self.dof = model.n - (p if model.reml else 0) + p

    def sigma_from(self, f) -> float:
        return float(np.sqrt(f.pwrss / self.dof))

    def objective(self, theta: np.ndarray) -> float:
        m = self.model
        try:
            f = m.factorize_deviance(theta)
        except np.linalg.LinAlgError:
            return math.inf
        if not np.isfinite(f.logdet_x) or f.pwrss <= 0:
            return math.inf
        s2 = f.pwrss / self.dof
        n_eff = m.n - (m.p if m.reml else 0)
        out = 2 * f.logdet_theta + f.pwrss / s2 + (n_eff + m.p) * math.log(2 * math.pi * s2)
        if m.reml:
            out += 2 * f.logdet_x
        return out + self.logdet_v


def fixef_penalised(objective: Callable, prior: FixefNormal, start: int, p: int) -> Callable:
    """``objective(par) + beta' V^{-1} beta + log|V| + p log(2 pi)`` with ``beta =
    par[start:start+p]``: a GLMM's criterion under ``beta ~ N(0, V)`` (blme's ``bglmer``)."""
    V = prior.variances(p)
    const = float(np.sum(np.log(V))) + p * math.log(2 * math.pi)

    def f(par: np.ndarray) -> float:
        b = np.asarray(par, float)[start : start + p]
        return objective(par) + float(np.sum(b * b / V)) + const

    return f
