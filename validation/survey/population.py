"""A finite two-level population and an informative two-stage sample from it (issue 16, item 4).

Population (superpopulation model, so the truth is known exactly): ``M`` schools with ``N_j``
students, ``y_ij = b0 + b1 x_ij + b2 z_j + u_j + e_ij``, ``x ~ N(0, 1)``, ``z ~ N(0, 1)``,
``u_j ~ N(0, tau2)``, ``e_ij ~ N(0, sigma2)``; a binary outcome from the same effects,
``ybin_ij = 1[b0 + b1 x_ij + b2 z_j + u_j + l_ij > 0]`` with standard logistic ``l_ij``, follows the
random-intercept logit model with the same ``b`` and ``tau2``.

Stage 1 (schools, informative): Poisson sampling with inclusion probability proportional to a size
measure ``s_j = 0.25 + expit(a2 (b2 z_j + u_j))`` (``pi_j = min(1, n_schools s_j / sum s)``), so
schools with high outcomes are over-sampled (up to 5 times), as a PPS design whose size measure is
related to achievement; the logistic (not exponential) tilt makes the selection of ``u_j`` depend on
``z_j``, which biases the unweighted level-2 effect as well as the intercept.
Stage 2 (students, informative): Poisson sampling with ``pi_i|j = expit(c1 + a1 (b1 x_ij + e_ij))``
(``l_ij`` in place of ``e_ij`` for the binary outcome),
over-sampling students with high within-school outcomes (Pfeffermann et al. 1998's design, with
continuous instead of two-valued probabilities). Weights: ``w_school = 1 / pi_j``,
``w_student = 1 / pi_i|j`` (conditional on the school).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Design:
    """The population model and the two-stage informative design."""

    b0: float = 1.0
    b1: float = 0.5
    b2: float = 0.4
    tau2: float = 0.3
    sigma2: float = 1.0
    n_pop_schools: int = 1000
    school_size: tuple[int, int] = (30, 90)
    n_schools: int = 60
    a2: float = 3.0
    a1: float = 0.8
    c1: float = 0.0

    def truth_for(self, outcome: str) -> dict[str, float]:
        t = self.truth
        if outcome == "binomial":
            t.pop("var(Residual)")
        return t

    @property
    def truth(self) -> dict[str, float]:
        return {
            "(Intercept)": self.b0,
            "x": self.b1,
            "z": self.b2,
            "var(school:(Intercept))": self.tau2,
            "var(Residual)": self.sigma2,
        }


def population(rng: np.random.Generator, d: Design = Design()) -> pd.DataFrame:
    """One finite population of ``d.n_pop_schools`` schools (school, x, z, y, e, ybin, l, u)."""
    lo, hi = d.school_size
    nj = rng.integers(lo, hi + 1, size=d.n_pop_schools)
    school = np.repeat(np.arange(d.n_pop_schools), nj)
    z = rng.normal(size=d.n_pop_schools)
    u = rng.normal(0, np.sqrt(d.tau2), size=d.n_pop_schools)
    x = rng.normal(size=school.size)
    e = rng.normal(0, np.sqrt(d.sigma2), size=school.size)
    lin = d.b0 + d.b1 * x + d.b2 * z[school] + u[school]
    lg = rng.logistic(size=school.size)
    return pd.DataFrame(
        {
            "school": school,
            "x": x,
            "z": z[school],
            "y": lin + e,
            "e": e,
            "ybin": (lin + lg > 0).astype(int),
            "l": lg,
            "u": u[school],
        }
    )


def sample(
    rng: np.random.Generator,
    pop: pd.DataFrame,
    d: Design = Design(),
    outcome: str = "gaussian",
) -> pd.DataFrame:
    """The informative two-stage sample with ``w_school``, ``w_student`` and a unit weight ``one``;
    ``outcome="binomial"`` selects students on ``b1 x + l`` (the binary outcome's error)."""
    sch = pop.groupby("school", sort=True)[["z", "u"]].first()
    s = 0.25 + 1.0 / (1.0 + np.exp(-d.a2 * (d.b2 * sch.z.to_numpy() + sch.u.to_numpy())))
    pi2 = np.minimum(1.0, d.n_schools * s / s.sum())
    take = sch.index[rng.random(pi2.size) < pi2]
    w2 = pd.Series(1.0 / pi2, index=sch.index)
    sub = pop[pop.school.isin(take)]
    err = sub.l if outcome == "binomial" else sub.e
    lin = d.b1 * sub.x.to_numpy() + err.to_numpy()
    pi1 = 1.0 / (1.0 + np.exp(-(d.c1 + d.a1 * lin)))
    keep = rng.random(pi1.size) < pi1
    out = sub.loc[keep, ["school", "x", "z", "y", "ybin"]].copy()
    out["w_student"] = 1.0 / pi1[keep]
    out["w_school"] = w2.loc[out.school].to_numpy()
    out["one"] = 1.0
    return out.reset_index(drop=True)
