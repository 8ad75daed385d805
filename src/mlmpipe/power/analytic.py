"""Closed-form power, MDES and minimum sample size for multilevel randomised designs.

The standard error of the standardised treatment effect (outcome variance 1 = the sum of the
level variances; ``rho2``, ``rho3`` the intraclass correlations; ``R1``..``R3`` the shares of each
level's variance explained by covariates; ``P`` the treated share; ``omega`` the treatment-effect
variance over the intercept variance of its level) is, as in Dong & Maynard (2013, PowerUp!,
J. Res. Educ. Eff. 6(1)), Bloom (2006) and Raudenbush (1997, Psychol. Methods 2(2)):

* ``cra2`` (clusters randomised, 2 levels): ``rho2(1-R2)/(P(1-P)J) + (1-rho2)(1-R1)/(P(1-P)Jn)``,
  df ``J - g2 - 2``;
* ``cra3`` (level-3 units randomised): ``rho3(1-R3)/(P(1-P)K) + rho2(1-R2)/(P(1-P)JK) +
  (1-rho2-rho3)(1-R1)/(P(1-P)JKn)``, df ``K - g3 - 2``;
* ``bira2`` (multisite: individuals randomised within clusters, random effects):
  ``rho2 omega2 (1-RT2)/J + (1-rho2)(1-R1)/(P(1-P)Jn)``, df ``J - g2 - 1``;
* ``bira2f`` (the same with fixed blocks): ``(1-rho2)(1-R1)/(P(1-P)Jn)``, df ``J(n-2) - g1``;
* ``bira3`` (individuals randomised within level-2 units within level-3 units, random):
  ``rho3 omega3 (1-RT3)/K + rho2 omega2 (1-RT2)/(JK) + (1-rho2-rho3)(1-R1)/(P(1-P)JKn)``,
  df ``K - g3 - 1``;
* ``bcra3`` (level-2 units randomised within level-3 blocks, random):
  ``rho3 omega3 (1-RT3)/K + rho2(1-R2)/(P(1-P)JK) + (1-rho2-rho3)(1-R1)/(P(1-P)JKn)``,
  df ``K - g3 - 1``.

Power is exact under the noncentral t: ``P(|T| > t_{1-a/2,df})`` with ``T ~ t(df, es/SE)``
(Hedges & Rhoads 2009). The MDES is reported both with PowerUp!'s multiplier
``M = t_{1-a/2,df} + t_{power,df}`` (Bloom 1995), which published tables use, and exactly (the
effect whose noncentral-t power is the target).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import optimize, stats

from mlmpipe.errors import PlanError

DESIGNS = ("cra2", "cra3", "bira2", "bira2f", "bira3", "bcra3")
THREE_LEVEL = ("cra3", "bira3", "bcra3")


@dataclass(frozen=True)
class DesignParams:
    """Standardised parameters of a design (see the module docstring)."""

    design: str
    rho2: float
    rho3: float = 0.0
    omega2: float = 0.0
    omega3: float = 0.0
    p: float = 0.5
    r2_1: float = 0.0
    r2_2: float = 0.0
    r2_3: float = 0.0
    r2_t2: float = 0.0
    r2_t3: float = 0.0
    g: int = 0  # covariates at the level whose units give the df

    def __post_init__(self) -> None:
        if self.design not in DESIGNS:
            raise PlanError(f"power.design: {self.design!r}; allowed: {', '.join(DESIGNS)}")
        for key in ("rho2", "rho3", "r2_1", "r2_2", "r2_3", "r2_t2", "r2_t3"):
            v = getattr(self, key)
            if not 0.0 <= v < 1.0:
                raise PlanError(f"power.{key}: {v} must be in [0, 1)")
        if self.rho2 + self.rho3 >= 1.0:
            raise PlanError(f"power: rho2 + rho3 = {self.rho2 + self.rho3} must be below 1")
        if not 0.0 < self.p < 1.0:
            raise PlanError(f"power.p_treated: {self.p} must be in (0, 1)")


def _var_and_df(d: DesignParams, n: float, J: float, K: float = 1.0) -> tuple[float, float]:
    pq = d.p * (1.0 - d.p)
    rho1 = 1.0 - d.rho2 - d.rho3
    if d.design == "cra2":
        v = d.rho2 * (1 - d.r2_2) / (pq * J) + rho1 * (1 - d.r2_1) / (pq * J * n)
        df = J - d.g - 2
    elif d.design == "cra3":
        v = (
            d.rho3 * (1 - d.r2_3) / (pq * K)
            + d.rho2 * (1 - d.r2_2) / (pq * J * K)
            + rho1 * (1 - d.r2_1) / (pq * J * K * n)
        )
        df = K - d.g - 2
    elif d.design == "bira2":
        v = d.rho2 * d.omega2 * (1 - d.r2_t2) / J + rho1 * (1 - d.r2_1) / (pq * J * n)
        df = J - d.g - 1
    elif d.design == "bira2f":
        v = rho1 * (1 - d.r2_1) / (pq * J * n)
        df = J * (n - 2) - d.g
    elif d.design == "bira3":
        v = (
            d.rho3 * d.omega3 * (1 - d.r2_t3) / K
            + d.rho2 * d.omega2 * (1 - d.r2_t2) / (J * K)
            + rho1 * (1 - d.r2_1) / (pq * J * K * n)
        )
        df = K - d.g - 1
    else:  # bcra3
        v = (
            d.rho3 * d.omega3 * (1 - d.r2_t3) / K
            + d.rho2 * (1 - d.r2_2) / (pq * J * K)
            + rho1 * (1 - d.r2_1) / (pq * J * K * n)
        )
        df = K - d.g - 1
    if df < 1:
        raise PlanError(
            f"power.grid: {d.design} with n={n:g}, J={J:g}, K={K:g} leaves {df:g} degrees of "
            "freedom; more clusters are needed"
        )
    return v, df


def standard_error(d: DesignParams, n: float, J: float, K: float = 1.0) -> float:
    """SE of the standardised treatment effect and (second) its df: see the module docstring."""
    return math.sqrt(_var_and_df(d, n, J, K)[0])


def degrees_of_freedom(d: DesignParams, n: float, J: float, K: float = 1.0) -> float:
    return _var_and_df(d, n, J, K)[1]


def power_t(ncp: float, df: float, alpha: float = 0.05, two_tailed: bool = True) -> float:
    """Power of the t test with noncentrality ``ncp`` (noncentral t; Hedges & Rhoads 2009)."""
    if two_tailed:
        c = stats.t.ppf(1 - alpha / 2, df)
        return float(stats.nct.sf(c, df, ncp) + stats.nct.cdf(-c, df, ncp))
    c = stats.t.ppf(1 - alpha, df)
    return float(stats.nct.sf(c, df, ncp))


def power(
    d: DesignParams,
    es: float,
    n: float,
    J: float,
    K: float = 1.0,
    alpha: float = 0.05,
    two_tailed: bool = True,
) -> float:
    """Power to detect the standardised effect ``es`` (noncentral t)."""
    v, df = _var_and_df(d, n, J, K)
    return power_t(es / math.sqrt(v), df, alpha, two_tailed)


def multiplier(df: float, alpha: float = 0.05, target: float = 0.8, two_tailed: bool = True):
    """PowerUp!'s MDES multiplier ``t_{1-a/2,df} + t_{power,df}`` (Bloom 1995)."""
    a = alpha / 2 if two_tailed else alpha
    return float(stats.t.ppf(1 - a, df) + stats.t.ppf(target, df))


def mdes(
    d: DesignParams,
    n: float,
    J: float,
    K: float = 1.0,
    alpha: float = 0.05,
    target: float = 0.8,
    two_tailed: bool = True,
    exact: bool = False,
) -> float:
    """Minimum detectable effect size: ``M * SE`` (PowerUp!) or, ``exact=True``, the effect
    whose noncentral-t power equals ``target``."""
    v, df = _var_and_df(d, n, J, K)
    se = math.sqrt(v)
    m = multiplier(df, alpha, target, two_tailed)
    if not exact:
        return m * se
    return float(
        optimize.brentq(lambda e: power_t(e / se, df, alpha, two_tailed) - target, 1e-9, 2 * m * se)
    )


def min_clusters(
    d: DesignParams,
    es: float,
    n: float,
    J: float | None = None,
    alpha: float = 0.05,
    target: float = 0.8,
    two_tailed: bool = True,
    max_units: int = 100_000,
) -> int:
    """Smallest number of top-level units (J for 2-level designs, K for 3-level ones, with ``J``
    level-2 units each) whose noncentral-t power reaches ``target``."""
    three = d.design in THREE_LEVEL
    if three and J is None:
        raise PlanError("power.grid.subclusters: a 3-level design needs the level-2 units per unit")
    lo = 2
    while True:
        try:
            if three:
                _var_and_df(d, n, J, lo)
            else:
                _var_and_df(d, n, lo)
            break
        except PlanError:
            lo += 1
            if lo > max_units:
                raise
    hi = lo

    def pw(m: int) -> float:
        return (
            power(d, es, n, J, m, alpha, two_tailed)
            if three
            else power(d, es, n, m, 1.0, alpha, two_tailed)
        )

    while pw(hi) < target:
        hi *= 2
        if hi > max_units:
            raise PlanError(f"power: target {target} not reached with {max_units} units")
    while lo < hi:
        mid = (lo + hi) // 2
        if pw(mid) >= target:
            hi = mid
        else:
            lo = mid + 1
    return lo


def optimal_allocation(
    rho2: float, cost_cluster: float, cost_unit: float, r2_1: float = 0.0, r2_2: float = 0.0
) -> float:
    """Cost-optimal cluster size of a 2-level cluster-randomised trial for total budget
    ``J (cost_cluster + n cost_unit)`` (Raudenbush 1997, eq. 15):
    ``n* = sqrt((cost_cluster / cost_unit) * (1-rho2)(1-R1) / (rho2 (1-R2)))``."""
    if not 0.0 < rho2 < 1.0:
        raise PlanError(f"power.icc.level2: {rho2} must be in (0, 1) for the optimal allocation")
    if cost_cluster <= 0 or cost_unit <= 0:
        raise PlanError("power.cost: cluster and unit costs must be positive")
    return math.sqrt((cost_cluster / cost_unit) * (1 - rho2) * (1 - r2_1) / (rho2 * (1 - r2_2)))
