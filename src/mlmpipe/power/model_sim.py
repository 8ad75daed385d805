"""Simulation power from the plan's full final model (random slopes, cross-level interactions), with
a pilot fit as the truth, as simr's ``powerSim`` / ``extend`` (Green & MacLeod 2016, Methods Ecol.
Evol. 7(4)).

Truth: the fixed effects, the random-effects covariance matrix of every grouping factor and the
residual SD of a fit record (optionally with the tested coefficient replaced, simr's
``fixef<-``). Data: the pilot data, or (``clusters``) whole clusters of it resampled with
replacement to the wanted number, each copy a new cluster, so level-2 covariates, cluster sizes and
within-cluster centring travel with their cluster (simr ``extend`` along the grouping factor). The
layout of a cell depends on the seed and the cell only; the responses of batch ``b`` of cell ``c``
are drawn from ``numpy.random.default_rng([seed, c, b])``:
``y = X beta + sum_g Z_g b_g + e``, ``b_g ~ N(0, Sigma_g)`` per cluster, ``e ~ N(0, sigma^2)``.
Each replicate is refitted by REML with the engine and the tested coefficient's t test uses the
plan's df method (``satterthwaite``, ``kenward_roger``; ``wald``: z).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from mlmpipe.engine.fit import fit_design
from mlmpipe.errors import PlanError
from mlmpipe.formula import Design, build_design
from mlmpipe.record import FitRecord

MODEL_TESTS = ("satterthwaite", "kenward_roger", "wald")


@dataclass(frozen=True)
class ModelTruth:
    """Parameters to simulate from: fixed effects by column name, ``{group: (names, Sigma)}``."""

    formula: str
    beta: dict[str, float]
    covariances: dict[str, tuple[tuple[str, ...], np.ndarray]]
    sigma: float


def truth_from_record(
    rec: FitRecord, term: str | None = None, coefficient: float | None = None
) -> ModelTruth:
    """The truth of a pilot fit record; ``coefficient`` replaces the estimate of ``term``."""
    beta = {t: float(rec.fixed_effect(t).estimate) for t in rec.fixed_terms}
    if coefficient is not None:
        beta[fixed_column(tuple(beta), term)] = float(coefficient)
    covs = {g: (tuple(n), np.asarray(S, float)) for g, (n, S) in rec.covariance_matrices().items()}
    return ModelTruth(rec.formula_text, beta, covs, float(rec.sigma))


def fixed_column(names: tuple[str, ...], term: str | None) -> str:
    """The column of X tested for the plan term ``term`` (``cses:sector`` ->
    ``cses:sectorCatholic``): the term itself, or the one column whose ``:``-parts each start
    with the term's parts (a binary factor's treatment contrast)."""
    if term in names:
        return term
    parts = (term or "").split(":")
    hits = [
        n
        for n in names
        if len(n.split(":")) == len(parts)
        and all(a.startswith(b) for a, b in zip(n.split(":"), parts, strict=True))
    ]
    if len(hits) != 1:
        raise PlanError(
            f"power.term: {term!r} is not one coefficient of the model; its coefficients: "
            f"{', '.join(names)}"
        )
    return hits[0]


def extend_clusters(
    frame: pd.DataFrame, cluster: str, clusters: int | None, rng: np.random.Generator
) -> pd.DataFrame:
    """``clusters`` whole clusters of ``frame`` drawn with replacement, each copy renamed
    ``<id>#<k>``; ``None`` keeps the frame."""
    if clusters is None:
        return frame
    if clusters < 2:
        raise PlanError(f"power.grid.clusters: {clusters}; at least 2 clusters are needed")
    ids = pd.unique(frame[cluster])
    pick = rng.choice(len(ids), size=clusters, replace=True)
    groups = frame.groupby(cluster, sort=False).indices
    parts = []
    for k, i in enumerate(pick):
        part = frame.iloc[groups[ids[i]]].copy()
        part[cluster] = f"{ids[i]}#{k}"
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def draw_model(design: Design, truth: ModelTruth, reps: int, rng: np.random.Generator):
    """``reps`` responses (rows) from the truth on the design's matrices."""
    missing = [n for n in design.fixed_names if n not in truth.beta]
    if missing:
        raise PlanError(f"power.pilot: the truth has no coefficient for {', '.join(missing)}")
    beta = np.array([truth.beta[n] for n in design.fixed_names])
    y = design.X @ beta + truth.sigma * rng.standard_normal((reps, design.X.shape[0]))
    for re in design.re_terms:
        if re.group not in truth.covariances:
            raise PlanError(f"power.pilot: the truth has no random effects for {re.group!r}")
        names, S = truth.covariances[re.group]
        idx = [names.index(n) for n in re.names]
        w, V = np.linalg.eigh(S[np.ix_(idx, idx)])
        root = V * np.sqrt(np.clip(w, 0.0, None))  # Sigma = root root' (PSD, singular allowed)
        b = rng.standard_normal((reps, re.nlevels, len(idx))) @ root.T
        y += np.einsum("nk,rnk->rn", re.Z, b[:, re.codes, :])
    return y


def run_model_batch(
    truth: ModelTruth,
    frame: pd.DataFrame,
    cluster: str,
    term: str,
    clusters: int | None = None,
    test: str = "satterthwaite",
    reps: int = 100,
    alpha: float = 0.05,
    seed: int = 1,
    cell: int = 0,
    batch: int = 0,
    mcar: float = 0.0,
) -> dict:
    """Simulate and refit ``reps`` replicates of the final model in one cell; the same keys as
    :func:`mlmpipe.power.simulate.run_batch` (rejections, failures, singular fits, time).

    ``mcar``: share of rows whose outcome is missing completely at random in each replicate
    (drawn after the responses from the same generator; those rows are dropped, listwise)."""
    if test not in MODEL_TESTS:
        raise PlanError(f"power.test: {test!r}; allowed: {', '.join(MODEL_TESTS)}")
    if reps < 1:
        raise PlanError(f"power.replications: {reps}; at least 1")
    if not 0.0 <= mcar < 1.0:
        raise PlanError(f"power.mcar: {mcar} must be in [0, 1)")
    data = extend_clusters(frame, cluster, clusters, np.random.default_rng([int(seed), int(cell)]))
    lhs = truth.formula.split("~")[0].strip()  # a plain response column (simulated over)
    if lhs not in data:
        data = data.assign(**{lhs: 0.0})
    design = build_design(truth.formula, data)
    col = fixed_column(design.fixed_names, term)
    rng = np.random.default_rng([int(seed), int(cell), int(batch)])
    ys = draw_model(design, truth, reps, rng)
    keep = rng.random(ys.shape) >= mcar if mcar > 0 else None
    df_method = "none" if test == "wald" else test
    rejected = failed = singular = 0
    reasons: list[str] = []
    t0 = time.perf_counter()
    for i, y in enumerate(ys):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                des = replace(design, y=y)
                if keep is not None:  # the observed rows of this replicate: a new design
                    rows = design.rows[keep[i]]
                    des = build_design(truth.formula, data.iloc[rows].assign(**{lhs: y[keep[i]]}))
                res = fit_design(des, df_method=df_method, alpha=alpha)
        except Exception as exc:  # a replicate that cannot be fitted is counted, not fatal
            failed += 1
            if len(reasons) < 5:
                reasons.append(str(exc).splitlines()[0])
            continue
        if not res.converged:
            failed += 1
            continue
        singular += bool(res.singular)
        j = list(res.model.fixed_names).index(col)
        z = res.beta[j] / math.sqrt(res.vcov[j, j])
        dfj = float(res.df[j])
        p = 2 * (stats.norm.sf(abs(z)) if not np.isfinite(dfj) else stats.t.sf(abs(z), dfj))
        rejected += p < alpha
    return {
        "cell": cell,
        "batch": batch,
        "seed": seed,
        "reps": reps,
        "term": col,
        "clusters": data[cluster].nunique(),
        "rejected": int(rejected),
        "failed": int(failed),
        "singular": int(singular),
        "reasons": reasons,
        "seconds": time.perf_counter() - t0,
    }
