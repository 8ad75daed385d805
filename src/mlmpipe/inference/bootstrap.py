"""Parametric bootstrap of a linear mixed model: percentile intervals for variance components and
fixed effects.

Each replicate simulates from the fitted model, ``y* = X beta_hat + sum_g Z_g b*_g + e*`` with
``b*_g ~ N(0, Sigma_g)`` independently per level of g and ``e* ~ N(0, sigma_hat^2 I)``, refits the
same formula by the same criterion (REML or ML) starting from theta_hat, and records the SDs,
correlations, sigma and fixed effects (Davison & Hinkley 1997, ch. 2; lme4's ``bootMer`` with
``use.u = FALSE, type = "parametric"``). Percentile intervals come from the pooled replicates.

Replicates are run in batches so they can be separate pipeline jobs; batch ``k`` draws from
``numpy.random.default_rng([seed, k])``, so the result depends only on the plan's seed and the
number of batches and resamples, not on the order in which batches run.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd

from mlmpipe.engine.fit import fit_design
from mlmpipe.progress import progress
from mlmpipe.record import FitRecord


def _parameters(res) -> dict[str, float]:
    vc = res.varcorr()
    out = {}
    for r in vc.itertuples(index=False):
        if r.group == "Residual":
            out["sigma"] = float(r.sdcor)
        elif r.term2 is None or (isinstance(r.term2, float) and np.isnan(r.term2)):
            out[f"sd_{r.term1}|{r.group}"] = float(r.sdcor)
        else:
            out[f"cor_{r.term1}.{r.term2}|{r.group}"] = float(r.sdcor)
    for name, b in zip(res.model.fixed_names, res.beta, strict=True):
        out[name] = float(b)
    return out


def bootstrap_batch(
    rec: FitRecord, data: pd.DataFrame, resamples: int, seed: int, batch: int
) -> dict:
    """Run ``resamples`` parametric bootstrap replicates of the LMM ``rec`` with rng
    ``[seed, batch]``: simulated from its fixed effects, variance components and sigma on the
    design of ``data``, each refitted (a new fit) by its criterion from its theta."""
    design = rec.design(data)
    names = list(design.fixed_names)
    est = {f.term: f.estimate for f in rec.fixed}
    beta = np.array([est.get(n, 0.0) for n in names])
    mean = np.asarray(design.X, float) @ beta
    covs = rec.covariance_matrices()
    sigma = float(rec.sigma)
    theta0 = np.asarray(rec.theta, float)
    rng = np.random.default_rng([int(seed), int(batch)])
    rows, failures, singular = [], [], 0
    for i in progress(range(resamples), f"bootstrap batch {batch}"):  # terminal, not the log
        y = mean + rng.normal(scale=sigma, size=len(mean))
        for t in design.re_terms:
            _nm, S = covs[t.group]
            L = np.linalg.cholesky(S + 1e-12 * np.eye(len(S)))
            b = rng.standard_normal((t.nlevels, len(S))) @ L.T
            y = y + np.einsum("ia,ia->i", np.asarray(t.Z, float), b[np.asarray(t.codes)])
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                res = fit_design(
                    replace(design, y=y), reml=rec.reml, df_method="none", theta0=theta0
                )
            singular += any("singular" in str(w.message) for w in caught)
            rows.append(_parameters(res))
        except Exception as exc:  # a replicate that cannot be fitted is counted, not fatal
            failures.append(f"replicate {i}: {str(exc).splitlines()[0]}")
    return {
        "batch": batch,
        "seed": seed,
        "resamples": resamples,
        "replicates": rows,
        "failures": failures,
        "singular": singular,
    }


def percentile_intervals(batches: list[dict], rec: FitRecord, level: float = 0.95) -> dict:
    """Pool the batches of ``rec``'s bootstrap and return percentile intervals per parameter."""
    reps = pd.DataFrame([r for b in batches for r in b["replicates"]])
    a = (1 - level) / 2
    rows = []
    for col in reps.columns:
        v = reps[col].dropna().to_numpy()
        rows.append(
            {
                "parameter": col,
                "low": float(np.quantile(v, a)),
                "high": float(np.quantile(v, 1 - a)),
                "bootstrap_se": float(np.std(v, ddof=1)),
                "replicates": int(len(v)),
            }
        )
    return {
        "model": rec.label,
        "level": level,
        "resamples": int(len(reps)),
        "failures": [f for b in batches for f in b["failures"]],
        "singular": int(sum(b.get("singular", 0) for b in batches)),
        "seeds": sorted({(b["seed"], b["batch"]) for b in batches}),
        "intervals": rows,
    }
