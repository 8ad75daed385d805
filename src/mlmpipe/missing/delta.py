"""MNAR sensitivity by delta adjustment and the tipping point.

Under MAR the imputed outcome values come from the observed-data model. If the missing outcomes
are instead systematically higher or lower (MNAR), a pattern-mixture model shifts them by
``delta`` (van Buuren 2018, sec. 3.8; Carpenter & Kenward 2013, ch. 10): every imputed outcome
value becomes ``y + delta * SD(y_observed)``, the analysis model is refitted on each shifted
imputation and the fits are pooled with Rubin's rules. Repeating this over a grid of deltas shows
how far from MAR the data would have to be before the key effect changes its conclusion: the
*tipping point* is the smallest |delta| (linearly interpolated between grid points) at which the
pooled p value crosses ``alpha``.

The shifted data sets are derived from the MAR imputations (the outcome is shifted after
imputation, as in mice's ``post`` processing when the outcome is imputed last); predictors imputed
from the unshifted outcome are left unchanged.

A non-gaussian plan (``glmm``: family, link, nagq) shifts a binary outcome on the logit scale, a
count on the log scale and an ordinal outcome on its latent scale, by redrawing each imputed value
from the shifted imputation-model distribution with a coupled draw
(:mod:`mlmpipe.missing.delta_discrete`); the grid is then in those units (not in SDs), delta = 0
leaves the MAR imputations unchanged, and the analysis model is the plan's GLMM (ML).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlmpipe.api import fit as fit_model
from mlmpipe.errors import PlanError
from mlmpipe.missing.delta_discrete import UNITS, prepare_shift
from mlmpipe.missing.mi_chained import FLAG
from mlmpipe.missing.pool import pool_fits
from mlmpipe.record.capture import record_from_result


def delta_adjust(df: pd.DataFrame, outcome: str, delta: float, sd: float) -> pd.DataFrame:
    """Copy of ``df`` with the imputed values of ``outcome`` shifted by ``delta * sd``."""
    flag = FLAG.format(name=outcome)
    out = df.copy()
    if flag not in df.columns:
        return out  # nothing imputed in the outcome
    out.loc[df[flag].astype(bool), outcome] = df.loc[df[flag].astype(bool), outcome] + delta * sd
    return out


def tipping_point(rows: list[dict], alpha: float) -> dict:
    """Deltas nearest to 0 on each side at which p crosses ``alpha`` (None if not in the grid)."""
    d = np.array([r["delta"] for r in rows])
    p = np.array([r["p"] for r in rows])
    order = np.argsort(d)
    d, p = d[order], p[order]
    sig0 = None
    if 0.0 in d:
        sig0 = bool(p[d == 0.0][0] < alpha)
    out = {"significant_under_mar": sig0, "negative": None, "positive": None}
    for side, idx in (
        ("positive", np.flatnonzero(d >= 0)),
        ("negative", np.flatnonzero(d <= 0)[::-1]),
    ):
        for a, b in zip(idx[:-1], idx[1:], strict=True):
            if (p[a] < alpha) != (p[b] < alpha):
                # interpolate on log p (p varies over orders of magnitude)
                la, lb, lt = np.log(p[a]), np.log(p[b]), np.log(alpha)
                out[side] = float(d[a] + (lt - la) / (lb - la) * (d[b] - d[a]))
                break
    return out


def delta_analysis(
    datasets: list[pd.DataFrame],
    outcome: str,
    formula: str,
    term: str | None,
    grid: list[float],
    reml: bool = True,
    alpha: float = 0.05,
    backend: str = "mlmpipe",
    glmm: dict | None = None,
    seed: int = 0,
) -> dict:
    """Pooled estimate of ``term`` (default: the last fixed effect) for every delta in ``grid``
    (0 is always added). ``glmm`` (family, link, nagq of a non-gaussian plan) switches to the
    link-scale shift of :mod:`mlmpipe.missing.delta_discrete` (coupling uniforms seeded by
    ``seed``); without it the gaussian path is unchanged."""

    if len(datasets) < 2:
        raise PlanError("missing.delta.grid: delta adjustment needs at least 2 imputations")
    observed = (
        ~datasets[0][FLAG.format(name=outcome)].astype(bool)
        if FLAG.format(name=outcome) in datasets[0]
        else np.ones(len(datasets[0]), bool)
    )
    if glmm:
        rngs = np.random.default_rng(seed).spawn(len(datasets))
        shifts = [
            prepare_shift(df, outcome, formula, glmm, r)
            for df, r in zip(datasets, rngs, strict=True)
        ]
        sd = float("nan")  # the grid is on the link / latent scale, not in SDs
    else:
        sd = float(datasets[0].loc[observed, outcome].std())
    rows = []
    for delta in sorted(set(map(float, grid)) | {0.0}):
        if glmm:
            fits = [
                record_from_result(fit_model(formula, s.shifted(delta), reml=False, **glmm))
                for s in shifts
            ]
        else:
            fits = [
                record_from_result(
                    fit_model(
                        formula, delta_adjust(df, outcome, delta, sd), reml=reml, backend=backend
                    )
                )
                for df in datasets
            ]
        pooled = pool_fits(fits, alpha)
        terms = list(pooled.fixed_terms)
        term = term or terms[-1]
        if term not in terms:
            raise PlanError(
                f"missing.delta.term: {term!r} is not a fixed effect of the model; terms are "
                f"{', '.join(terms)}"
            )
        f = pooled.fixed_effect(term).to_dict()
        rows.append(
            {
                "delta": delta,
                "shift": delta if glmm else delta * sd,
                **{k: f[k] for k in ("estimate", "se", "df", "p", "ci_low", "ci_high", "fmi")},
            }
        )
    out = {
        "outcome": outcome,
        "sd_observed": None if glmm else sd,
        "formula": formula,
        "term": term,
        "alpha": alpha,
        "m": len(datasets),
        "rows": rows,
        "tipping_point": tipping_point(rows, alpha),
    }
    if glmm:
        out |= {"family": glmm["family"], "units": UNITS[glmm["family"]], "seed": seed}
        out["imputed_changed"] = _changed(shifts, rows)
    return out


def _changed(shifts, rows: list[dict]) -> list[dict]:
    """Per delta: share of the imputed outcome values the shift changed (mean over imputations)."""
    out = []
    for r in rows:
        moved = [
            float(
                np.mean(
                    s.shifted(r["delta"])[s.outcome].to_numpy()[s.rows]
                    != s.data[s.outcome].to_numpy()[s.rows]
                )
            )
            for s in shifts
            if len(s.rows)
        ]
        out.append({"delta": r["delta"], "share": float(np.mean(moved)) if moved else 0.0})
    return out
