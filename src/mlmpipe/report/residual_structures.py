"""The residual-structure comparison of a longitudinal plan: the models of the sequence that share
one fixed and random part and differ only in their R-side residual structure (independent, AR(1),
continuous-time AR(1), nlme's varIdent, combinations; :mod:`mlmpipe.engine.residual`).

Each structure is compared with AIC and BIC, and with a likelihood-ratio test against the nearest
earlier structure nested in it (its correlation is absent or the same, its variance function absent
or the same). The fixed part is identical, so REML fits are compared when planned (Pinheiro &
Bates 2000, sec. 2.4.1; Verbeke & Molenberghs 2000, sec. 6.2). Null values: AR(1)'s phi = 0 and a
variance ratio of 1 are interior points, so the statistic is referred to chi-square with the
difference in parameters; continuous-time AR(1) has phi in (0, 1) and phi = 0 on the boundary,
so against independence the p value is the 50:50 mixture of chi-square(0) and chi-square(1) (Self
& Liang 1987). AR(1) and CAR(1) have the same number of parameters and are not nested (they agree
when occasions are equally spaced): AIC/BIC only.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from scipy import stats

from mlmpipe.record import FitRecord

_CORR_LABEL = {"ar1": "AR(1)", "car1": "CAR(1)"}


def structure_label(residual: dict | None) -> str:
    """``"independent"``, ``"AR(1) over wave"``, ``"varIdent by wave"``, ``"CAR(1) over year +
    varIdent by wave"``."""
    r = residual or {}
    parts = []
    if r.get("correlation"):
        parts.append(f"{_CORR_LABEL.get(r['correlation'], r['correlation'])} over {r.get('time')}")
    if r.get("variance"):
        parts.append(f"varIdent by {r.get('strata')}")
    return " + ".join(parts) or "independent"


def _key(residual: dict | None) -> tuple:
    r = residual or {}
    corr = (r["correlation"], r.get("time"), r.get("subject")) if r.get("correlation") else None
    var = r.get("strata") if r.get("variance") else None
    return corr, var


def _nested(simple: tuple, rich: tuple) -> bool:
    """``simple`` is ``rich`` with its correlation and/or variance function removed."""
    return simple != rich and all(s is None or s == r for s, r in zip(simple, rich, strict=True))


def comparison_fits(recs: Sequence[FitRecord], models: Sequence[str]) -> list[FitRecord]:
    """The fits of the residual-structure comparison, in sequence order: those (REML when planned,
    else ML) whose fitted formula is the formula of the first model with a residual structure; []
    when no model has one."""
    estimators = {r.estimator for r in recs}
    est = "reml" if "reml" in estimators else "ml"
    by_model = {r.model: r for r in recs if r.estimator == est}
    fits = [by_model[m] for m in models if m in by_model]
    first = next((r for r in fits if r.residual), None)
    if first is None:
        return []
    return [r for r in fits if r.formula == first.formula]


def comparison_table(recs: Sequence[FitRecord], models: Sequence[str]) -> pd.DataFrame | None:
    """One row per residual structure: ``model, estimator, structure, parameters (npar), logLik,
    AIC, BIC`` and the LRT (``vs``, ``chi2``, ``df``, ``p``) against the nearest earlier nested
    structure; None when the plan compares no residual structures."""
    fits = comparison_fits(recs, models)
    if len(fits) < 1:
        return None
    rows = []
    for i, rec in enumerate(fits):
        row = {
            "model": rec.model,
            "estimator": rec.estimator.upper(),
            "structure": structure_label(rec.residual),
            "parameters": rec.npar,
            "logLik": round(rec.loglik, 2),
            "AIC": round(rec.aic, 2),
            "BIC": round(rec.bic, 2),
            "vs": "",
            "chi2": None,
            "df": None,
            "p": None,
        }
        key = _key(rec.residual)
        base = next((b for b in reversed(fits[:i]) if _nested(_key(b.residual), key)), None)
        if base is not None:
            row.update(lrt(base, rec))
        rows.append(row)
    return pd.DataFrame(rows)


def lrt(simple: FitRecord, rich: FitRecord) -> dict:
    """Likelihood-ratio test of ``rich`` against the nested ``simple`` structure (module
    docstring: chi-square, or the 50:50 mixture for CAR(1)'s phi against independence)."""
    chi2 = max(0.0, 2.0 * (rich.loglik - simple.loglik))
    df = int(rich.npar - simple.npar)
    p = float(stats.chi2.sf(chi2, df)) if df > 0 else None
    boundary = _key(rich.residual)[0] is not None and _key(simple.residual)[0] is None
    if boundary and (rich.residual or {}).get("correlation") == "car1" and df == 1:
        p = 0.5 * float(stats.chi2.sf(chi2, 1))
    return {"vs": simple.model, "chi2": round(chi2, 2), "df": df, "p": p}


def parameter_table(recs: Sequence[FitRecord], models: Sequence[str]) -> pd.DataFrame | None:
    """The residual parameters of each structure with the SE and 95% CI the fit records (phi on
    its constrained scale; variance ratios = residual SD of a stratum / SD of the first stratum);
    None when no compared fit has one."""
    rows = []
    for rec in comparison_fits(recs, models):
        r = rec.residual or {}
        if r.get("correlation"):
            lo, hi = r.get("phi_ci") or (None, None)
            rows.append(_par(rec, "phi", r.get("phi"), r.get("phi_se"), lo, hi))
        ses, cis = r.get("variance_ratio_se") or {}, r.get("variance_ratio_ci") or {}
        for stratum, ratio in (r.get("variance_ratios") or {}).items():
            lo, hi = cis.get(stratum) or (None, None)
            rows.append(_par(rec, f"SD ratio {r.get('strata')}={stratum}", ratio,
                             ses.get(stratum), lo, hi))  # fmt: skip
    return pd.DataFrame(rows) if rows else None


def _par(rec: FitRecord, name: str, est, se, lo, hi) -> dict:
    def r4(v):
        return None if v is None else round(float(v), 4)

    return {"model": rec.model, "structure": structure_label(rec.residual), "parameter": name,
            "estimate": r4(est), "SE": r4(se), "CI low": r4(lo), "CI high": r4(hi)}  # fmt: skip


def method_sentence(recs: Sequence[FitRecord], models: Sequence[str]) -> str:
    """One sentence for the Method section naming the compared structures, the criterion and the
    best structure by AIC; "" when the plan compares none."""
    table = comparison_table(recs, models)
    if table is None or len(table) < 2:
        return ""
    best = table.loc[table["AIC"].idxmin()]
    names = ", ".join(table["structure"])
    est = table["estimator"].iloc[0]
    return (
        f"Level-1 residual structures ({names}) were compared for one fixed and random part by "
        f"{est} AIC, BIC and likelihood-ratio tests against the nested simpler structure "
        "(chi-square for AR(1) phi and variance ratios, interior nulls; a 50:50 chi-square "
        "mixture for the continuous-time AR(1) phi at its boundary; Pinheiro & Bates 2000, "
        f"ch. 5); AIC favoured {best['structure']} ({best['model']})."
    )
