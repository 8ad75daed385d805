"""Influence of each cluster on the fixed effects, by refitting the model without it.

For cluster j with leave-one-out estimates ``beta_(j)`` (Belsley, Kuh & Welsch 1980; for mixed
models Van der Meer, Te Grotenhuis & Pelzer 2010, R Journal 2(1), the method of ``influence.ME``):

* Cook's distance ``D_j = (beta - beta_(j))' V^{-1} (beta - beta_(j)) / p`` with ``V`` the
  covariance of the full-data estimates and p the number of fixed effects;
* DFBETAS ``(beta_k - beta_(j)k) / SE_(j)k`` with the standard error from the reduced fit.

These are influence.ME's definitions; they match leave-one-subject-out lmer refits of sleepstudy to
1e-4 (tests/fixtures/effects/make_influence_fixtures.R). lme4's own ``influence.merMod`` (with
``groups=``) differs in two conventions: its ``cooks.distance`` scales the same quadratic form by
``(J - p) / (J p)`` instead of ``1 / p`` (J clusters) and its ``dfbetas`` are ``(beta_(j) - beta) /
SE_(j)``, the opposite sign.

Flags (the usual rules of thumb, named in the output): ``D_j > 4 / J`` and ``|DFBETAS| > 2 / sqrt(J)``
with J clusters. The full-data estimates and ``V`` are the fit record's, from the model restored on
the data (:func:`mlmpipe.record.restore`, no refit); each leave-one-out LMM refit is a new fit of
``rec.design`` on the reduced data, started from the full-data theta, so it takes a few optimizer
steps.
A GLMM or ordinal fit is refitted as the same GLMM (family, link, nAGQ) with its variance
parameters held at the full-data estimates (:mod:`mlmpipe.diagnostics.glmm_influence`; the output's
``method`` says so), not as a linear model of the 0/1, count or ordinal outcome.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from mlmpipe.diagnostics.glmm_influence import METHOD, fixed_variance_refitter
from mlmpipe.engine.fit import fit_design
from mlmpipe.errors import EstimationError
from mlmpipe.formula.terms import Design
from mlmpipe.record import FitRecord
from mlmpipe.record.restore import restore

LMM_METHOD = "full refits (REML flag of the fit), each started from the full-data theta"


def _setup(
    rec: FitRecord, data: pd.DataFrame, design: Design
) -> tuple[np.ndarray, np.ndarray, list[str], Callable, str]:
    """``(V, beta, names, refit, method)``: the full-data covariance, fixed effects and their names
    the leave-one-out estimates are compared with, and ``refit(design, theta0)``. An LMM's ``V``
    is the unadjusted ``sigma^2 (R_X' R_X)^{-1}`` of the model restored at the record's theta."""
    if not rec.family.is_gaussian:
        V, ref, refit = fixed_variance_refitter(rec, data, design)
        return V, ref.beta, list(ref.model.fixed_names), refit, METHOD

    def refit(d: Design, theta0: np.ndarray | None):
        return fit_design(d, reml=rec.reml, df_method="none", theta0=theta0)

    full = restore(rec, data)
    V = full.model.vcov_beta(full.factor, full.sigma)
    beta = np.array([f.estimate for f in rec.fixed], float)
    return V, beta, list(full.model.fixed_names), refit, LMM_METHOD


def leave_one_cluster_out(rec: FitRecord, data: pd.DataFrame, group: str) -> dict:
    """Refit ``rec`` (its formula, REML flag and theta; a GLMM with its family, link and nAGQ at
    fixed variance parameters) without each level of column ``group`` of ``data``, the data it
    was fitted to."""
    if group not in data.columns:
        raise EstimationError(f"influence: grouping column {group!r} is not in the data")
    names = list(rec.fixed_terms)
    design = rec.design(data)
    V, beta, full_names, refit, method = _setup(rec, data, design)
    if full_names != names:
        raise EstimationError(
            f"influence: {rec.formula_text} refit does not reproduce the fixed terms"
        )
    theta0 = np.asarray(rec.theta, float)
    ids = pd.unique(data[group])
    J, p = len(ids), len(names)
    Vinv = np.linalg.inv(V)
    rows, warnings_ = [], []
    for cid in ids:
        sub = data[data[group] != cid]
        try:
            r = refit(rec.design(sub), theta0)
        except Exception as exc:  # a refit that cannot be estimated is reported, not fatal
            warnings_.append(f"{group} {cid}: refit failed ({str(exc).splitlines()[0]})")
            continue
        if list(r.model.fixed_names) != names:
            warnings_.append(f"{group} {cid}: dropping it removes a fixed-effect column")
            continue
        diff = beta - r.beta
        se = np.sqrt(np.diag(r.vcov))
        rows.append(
            {
                "cluster": str(cid),
                "cooks_d": float(diff @ Vinv @ diff / p),
                **{f"dfbetas {n}": float(d / s) for n, d, s in zip(names, diff, se, strict=True)},
                "converged": bool(r.converged),
            }
        )
    table = pd.DataFrame(rows)
    cut_d, cut_b = 4.0 / J, 2.0 / np.sqrt(J)
    dfb = table[[c for c in table.columns if c.startswith("dfbetas ")]]
    table["flag_cooks"] = table["cooks_d"] > cut_d
    table["flag_dfbetas"] = (dfb.abs() > cut_b).any(axis=1)
    return {
        "model": rec.label,
        "group": group,
        "clusters": J,
        "cutoffs": {"cooks_d": cut_d, "dfbetas": cut_b},
        "method": method,
        "table": table.to_dict(orient="records"),
        "warnings": warnings_,
    }


def influence_table(influence: dict) -> pd.DataFrame:
    return pd.DataFrame(influence["table"])


def flagged_clusters(influence: dict) -> pd.DataFrame:
    """Clusters over either cut-off, most influential first."""
    t = influence_table(influence)
    if t.empty:
        return t
    t = t[t["flag_cooks"] | t["flag_dfbetas"]]
    return t.sort_values("cooks_d", ascending=False).reset_index(drop=True)
