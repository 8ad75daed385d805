"""Simulation power with the production engine: data from the design's model under the stated
truth, refitted by :func:`mlmpipe.engine.fit.fit_design`, tested as the plan tests.

Truth (outcome variance 1, as :mod:`mlmpipe.power.analytic`): level-1 residual variance
``(1-rho2-rho3)(1-R1)``, random intercepts of variance ``rho2(1-R2)`` (level 2) and
``rho3(1-R3)`` (level 3), random treatment slopes of variance ``omega_l rho_l`` at the levels
above randomisation in the multisite designs, one standard-normal covariate per level with
``R_l > 0`` (coefficient ``sqrt(rho_l R_l)``; the level-1 one centred within clusters), and
the treatment (0/1, the treated share fixed by design as in the closed forms) with coefficient
``es``. Responses of a batch are drawn in one
vectorised step; the design matrices are built once per cell and only ``y`` changes per refit
(as the parametric bootstrap, :mod:`mlmpipe.inference.bootstrap`).

Tests: ``satterthwaite`` / ``kenward_roger`` (REML t test of the treatment coefficient, as
lmerTest / pbkrtest), ``wald`` (z test), ``lrt`` (REML likelihood-ratio test of the treatment
slope variance at the highest level that has one, ``(1 + treat || g)`` against ``(1 | g)``, with
the 50:50 mixture of chi-square(0) and chi-square(1) as null distribution; Self & Liang 1987,
Stram & Lee 1994).

Batch ``b`` of cell ``c`` draws from ``numpy.random.default_rng([seed, c, b])``: results depend
on the seed, the cell and the batch sizes only, not on the order batches run in.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
import pandas as pd
from scipy import stats

from mlmpipe.engine.fit import fit_design, fit_lmm
from mlmpipe.errors import PlanError
from mlmpipe.formula import build_design
from mlmpipe.ladder import PLANNED, Ladder
from mlmpipe.power.analytic import THREE_LEVEL, DesignParams

TESTS = ("satterthwaite", "kenward_roger", "wald", "lrt")
SIMULATED = ("cra2", "cra3", "bira2", "bira3", "bcra3")


@dataclass(frozen=True)
class Layout:
    """One simulated design: the fixed predictors and ids, the formula(s), and the truth."""

    frame: pd.DataFrame
    formula: str
    reduced: str | None  # the formula without the tested variance (LRT), else None
    mean_x: np.ndarray  # columns of the truth's fixed part (treat, covariates)
    beta: np.ndarray
    groups: tuple[tuple[np.ndarray, float, float], ...]  # (codes, sd intercept, sd slope)
    sigma: float


def _assign(n_units: int, p: float) -> np.ndarray:
    """Treatment indicator of ``n_units`` with ``round(p n)`` treated (at least 1 of each)."""
    k = min(max(int(round(p * n_units)), 1), n_units - 1)
    return (np.arange(n_units) < k).astype(float)


def layout(d: DesignParams, es: float, n: int, J: int, K: int = 1, test: str = "satterthwaite"):
    """The data layout, analysis formula and truth of design ``d`` (see the module docstring)."""
    if d.design not in SIMULATED:
        raise PlanError(
            f"power.design: {d.design!r} has no simulation (allowed: {', '.join(SIMULATED)})"
        )
    if test not in TESTS:
        raise PlanError(f"power.test: {test!r}; allowed: {', '.join(TESTS)}")
    if d.r2_t2 or d.r2_t3:
        raise PlanError("power.r2.treatment: covariates of the treatment slope are not simulated")
    three = d.design in THREE_LEVEL
    K = K if three else 1
    N = n * J * K
    l2 = np.repeat(np.arange(J * K), n)  # level-2 unit of each row (globally numbered)
    l3 = np.repeat(np.arange(K), J * n)
    if d.design == "cra2":
        treat = _assign(J, d.p)[l2]
    elif d.design == "cra3":
        treat = _assign(K, d.p)[l3]
    elif d.design == "bcra3":
        treat = np.tile(_assign(J, d.p), K)[l2]
    else:  # bira2, bira3: individuals within level-2 units
        treat = np.tile(_assign(n, d.p), J * K)
    rho1 = 1.0 - d.rho2 - d.rho3
    cols, beta, names = [treat], [es], ["treat"]
    blocked = d.design.startswith("bi")
    rng = np.random.default_rng(0)  # covariate values: fixed design, part of the layout
    if d.r2_1 > 0:  # centred within level-2 units: it explains level-1 variance only
        x1 = rng.standard_normal(N)
        x1 = (x1 - (np.bincount(l2, x1) / np.bincount(l2))[l2]) * math.sqrt(n / (n - 1))
        cols.append(x1)
        beta.append(math.sqrt(rho1 * d.r2_1))
        names.append("x1")
    r2_2 = 0.0 if blocked else d.r2_2
    if r2_2 > 0:
        cols.append(rng.standard_normal(J * K)[l2])
        beta.append(math.sqrt(d.rho2 * r2_2))
        names.append("x2")
    r2_3 = d.r2_3 if d.design == "cra3" else 0.0
    if r2_3 > 0:
        cols.append(rng.standard_normal(K)[l3])
        beta.append(math.sqrt(d.rho3 * r2_3))
        names.append("x3")
    frame = pd.DataFrame(dict(zip(names, cols, strict=True)))
    frame["l2"] = l2.astype(str)
    frame["y"] = 0.0
    slope2 = math.sqrt(d.omega2 * d.rho2) if d.design in ("bira2", "bira3") else 0.0
    slope3 = math.sqrt(d.omega3 * d.rho3) if d.design in ("bira3", "bcra3") else 0.0
    groups = [(l2, math.sqrt(d.rho2 * (1 - r2_2)), slope2)]
    if three:
        frame["l3"] = l3.astype(str)
        groups.append((l3, math.sqrt(d.rho3 * (1 - r2_3)), slope3))
    fixed = " + ".join(names)
    re2 = "(1 + treat || l2)" if d.design in ("bira2", "bira3") else "(1 | l2)"
    re3 = "(1 + treat || l3)" if d.design in ("bira3", "bcra3") else "(1 | l3)"
    re = [re2, re3] if three else [re2]
    reduced = None
    if test == "lrt":
        top = 1 if three and "treat" in re3 else 0
        if "treat" not in re[top]:
            raise PlanError(
                f"power.test: lrt tests a treatment-slope variance; {d.design} has none"
            )
        red = list(re)
        red[top] = f"(1 | {'l3' if top else 'l2'})"
        reduced = f"y ~ {fixed} + " + " + ".join(red)
    return Layout(
        frame,
        f"y ~ {fixed} + " + " + ".join(re),
        reduced,
        np.column_stack(cols),
        np.asarray(beta),
        tuple(groups),
        math.sqrt(rho1 * (1 - d.r2_1)),
    )


def draw(lay: Layout, reps: int, rng: np.random.Generator) -> np.ndarray:
    """``reps`` responses (rows) from the layout's truth, in one vectorised draw."""
    treat = lay.mean_x[:, 0]
    y = lay.mean_x @ lay.beta + lay.sigma * rng.standard_normal((reps, len(treat)))
    for codes, sd0, sd1 in lay.groups:
        m = int(codes.max()) + 1
        y += sd0 * rng.standard_normal((reps, m))[:, codes]
        if sd1 > 0:
            y += sd1 * rng.standard_normal((reps, m))[:, codes] * treat
    return y


def run_batch(
    d: DesignParams,
    es: float,
    n: int,
    J: int,
    K: int = 1,
    test: str = "satterthwaite",
    reps: int = 100,
    alpha: float = 0.05,
    seed: int = 1,
    cell: int = 0,
    batch: int = 0,
    mcar: float = 0.0,
    ladder: Ladder | None = None,
) -> dict:
    """Simulate and refit ``reps`` replicates of one cell; count rejections at ``alpha``,
    convergence failures (fits that raise or do not converge), singular fits and the time.

    ``mcar``: share of level-1 rows whose outcome is missing completely at random in each
    replicate (drawn after the responses, from the same generator); those rows are dropped
    (listwise) and the design is rebuilt for the replicate.

    ``ladder``: the plan's convergence ladder (:class:`mlmpipe.ladder.Ladder`), climbed for a
    replicate whose fit shows one of its triggers (t tests only: the LRT compares the models as
    registered); ``ladder`` counts the replicates analysed with a rung, ``unresolved`` those the
    ladder could not repair. ``singular`` counts the fits as registered."""
    lay = layout(d, es, n, J, K, test)
    design = build_design(lay.formula, lay.frame)
    reduced = build_design(lay.reduced, lay.frame) if lay.reduced else None
    df_method = {"wald": "none", "lrt": "none"}.get(test, test)
    if not 0.0 <= mcar < 1.0:
        raise PlanError(f"power.mcar: {mcar} must be in [0, 1)")
    rng = np.random.default_rng([int(seed), int(cell), int(batch)])
    ys = draw(lay, reps, rng)
    keep = rng.random(ys.shape) >= mcar if mcar > 0 else None
    rejected = failed = singular = laddered = unresolved = 0
    reasons: list[str] = []
    climb = ladder is not None and reduced is None
    t0 = time.perf_counter()
    for i, y in enumerate(ys):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                full, red = design, reduced
                if keep is not None:  # the observed rows of this replicate: a new design
                    frame = lay.frame[keep[i]].assign(y=y[keep[i]])
                    y = frame["y"].to_numpy()
                    full = build_design(lay.formula, frame)
                    red = build_design(lay.reduced, frame) if lay.reduced else None
                res = fit_design(replace(full, y=y), df_method=df_method, alpha=alpha)
                if red is not None:
                    res0 = fit_design(replace(red, y=y), df_method="none", alpha=alpha)
                sing = bool(res.singular)
                if climb and (
                    ("nonconvergence" in ladder.triggers and not res.converged)
                    or ("singular" in ladder.triggers and sing)
                ):
                    frame = (lay.frame[keep[i]] if keep is not None else lay.frame).assign(y=y)
                    fit = partial(fit_lmm, reml=True, df_method=df_method, alpha=alpha)
                    lr = ladder.run(fit, lay.formula, frame)
                    res = lr.result
                    laddered += lr.rung != PLANNED
                    unresolved += not lr.resolved
        except Exception as exc:  # a replicate that cannot be fitted is counted, not fatal
            failed += 1
            if len(reasons) < 5:
                reasons.append(str(exc).splitlines()[0])
            continue
        if not res.converged or (reduced is not None and not res0.converged):
            failed += 1
            continue
        singular += sing
        if reduced is not None:
            stat = max(res0.criterion - res.criterion, 0.0)
            p = 0.5 * stats.chi2.sf(stat, 1) if stat > 0 else 1.0
        else:
            j = list(res.model.fixed_names).index("treat")
            z = res.beta[j] / math.sqrt(res.vcov[j, j])
            dfj = float(res.df[j])
            p = 2 * (stats.norm.sf(abs(z)) if not np.isfinite(dfj) else stats.t.sf(abs(z), dfj))
        rejected += p < alpha
    return {
        "cell": cell,
        "batch": batch,
        "seed": seed,
        "reps": reps,
        "rejected": int(rejected),
        "failed": int(failed),
        "singular": int(singular),
        "ladder": int(laddered),
        "unresolved": int(unresolved),
        "reasons": reasons,
        "seconds": time.perf_counter() - t0,
    }


def summarise(batches: list[dict]) -> dict:
    """Pool the batches of one cell: power among the fitted replicates, its Monte-Carlo SE
    ``sqrt(p(1-p)/R)`` and the Wilson 95% interval."""
    R = sum(b["reps"] - b["failed"] for b in batches)
    rej = sum(b["rejected"] for b in batches)
    if R == 0:
        return {
            "fitted": 0,
            "power": float("nan"),
            "mc_se": float("nan"),
            "ci_low": float("nan"),
            "ci_high": float("nan"),
        }
    p = rej / R
    z = 1.959963984540054
    centre = (p + z * z / (2 * R)) / (1 + z * z / R)
    half = z * math.sqrt(p * (1 - p) / R + z * z / (4 * R * R)) / (1 + z * z / R)
    return {
        "fitted": R,
        "power": p,
        "mc_se": math.sqrt(p * (1 - p) / R),
        "ci_low": centre - half,
        "ci_high": centre + half,
    }
