"""Comparing the staged sequence: information criteria, likelihood-ratio tests, and proportional
reduction in variance (PRV) relative to the null model.

Tests between consecutive models:

* only fixed effects added -> LRT on the ML fits, chi-square with df = added parameters;
* only random effects added (fixed part identical) -> LRT on the REML fits (ML if REML is not
  planned) against the boundary-corrected 50:50 mixture of chi-square(df - 1) and chi-square(df)
  (Self & Liang 1987; Stram & Lee 1994), exact when one random effect with its covariances is added;
* both added -> LRT on the ML fits with the naive chi-square(df), flagged as conservative;
* not nested -> information criteria only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from mlmpipe.effects.latent import SKIPPED
from mlmpipe.missing.pool import pooled_lrt
from mlmpipe.record import FitRecord


def lrt_pvalue(lr: float, df: int) -> float:
    return float(stats.chi2.sf(max(lr, 0.0), df)) if df > 0 else float("nan")


def mixture_pvalue(lr: float, df: int) -> float:
    """P-value of ``lr`` under 0.5 chi2(df - 1) + 0.5 chi2(df) (chi2(0) is a point mass at 0)."""
    lr = max(lr, 0.0)
    upper = stats.chi2.sf(lr, df)
    lower = stats.chi2.sf(lr, df - 1) if df > 1 else (0.0 if lr > 0 else 1.0)
    return float(0.5 * lower + 0.5 * upper)


def _fixed_terms(fit: FitRecord) -> set:
    return set(fit.fixed_terms)


def _random_params(fit: FitRecord) -> set:
    return {(r.group, r.term1, r.term2) for r in fit.random if r.group != "Residual"}


def classify(a: FitRecord, b: FitRecord) -> str:
    """How model ``b`` extends model ``a``: fixed | random | both | same | not_nested."""
    fa, fb = _fixed_terms(a), _fixed_terms(b)
    ra, rb = _random_params(a), _random_params(b)
    if not (fa <= fb and ra <= rb):
        return "not_nested"
    if fa == fb and ra == rb:
        return "same"
    if fa == fb:
        return "random"
    if ra == rb:
        return "fixed"
    return "both"


def lrt(a: FitRecord, b: FitRecord, kind: str) -> dict:
    """Likelihood-ratio test of ``a`` (smaller) against ``b`` (larger) fits of the same kind."""
    if a.is_pooled and b.is_pooled:  # pooled over imputations
        return pooled_lrt(a, b, kind)
    lr = 2.0 * (b.loglik - a.loglik)
    df = int(b.npar - a.npar)
    if kind == "random":
        return {
            "chisq": lr,
            "df": df,
            "p": mixture_pvalue(lr, df),
            "reference": f"0.5 chi2({df - 1}) + 0.5 chi2({df})",
        }
    return {"chisq": lr, "df": df, "p": lrt_pvalue(lr, df), "reference": f"chi2({df})"}


def prv(null: FitRecord, fit: FitRecord) -> dict:
    """Proportional reduction in each variance component relative to the null model."""
    v0, v1 = null.variance_components(), fit.variance_components()
    return {g: (v0[g] - v1[g]) / v0[g] if v0.get(g) else None for g in v0 if g in v1}


def compare_sequence(models: list[dict], fits: dict[tuple[str, str], FitRecord]) -> dict:
    """Compare consecutive models.

    ``models``: ``[{"name", "label", "formula"}]`` in sequence order; ``fits``:
    ``{(model, estimator): FitRecord}`` with estimator ``reml`` / ``ml``.
    """
    estimators = sorted({e for _, e in fits}, key=["reml", "ml"].index)
    prv_est = "reml" if "reml" in estimators else "ml"
    null = fits[(models[0]["name"], prv_est)]
    rows = []
    for i, m in enumerate(models):
        row = {"model": m["name"], "label": m["label"], "formula": m["formula"]}
        for e in estimators:
            f = fits[(m["name"], e)]
            row[e] = {
                k: getattr(f, k)
                for k in ("npar", "loglik", "aic", "bic", "deviance", "converged", "singular")
            }
        row["prv"] = prv(null, fits[(m["name"], prv_est)])
        row["prv_estimator"] = prv_est
        if null.family.latent:  # GLMM / ordinal: the level-1 variance is fixed (effects/latent.py)
            row["prv"], row["prv_note"] = {}, SKIPPED["prv"]
        if i > 0:
            prev = models[i - 1]["name"]
            any_est = estimators[0]
            kind = classify(fits[(prev, any_est)], fits[(m["name"], any_est)])
            test = {"against": prev, "kind": kind}
            if kind == "random":
                est = "reml" if "reml" in estimators else "ml"
            elif kind in ("fixed", "both"):
                est = "ml" if "ml" in estimators else None
            else:
                est = None
            n_prev, n_this = fits[(prev, any_est)].nobs, fits[(m["name"], any_est)].nobs
            if est is not None and n_prev != n_this:  # missing.method: available
                test["note"] = (
                    f"fitted to different rows (n = {n_prev} vs {n_this}: missing predictor "
                    "values drop rows only from the models that use them): no likelihood-ratio "
                    "test, and AIC/BIC are not comparable"
                )
                est = None
            elif est is not None:
                test.update(lrt(fits[(prev, est)], fits[(m["name"], est)], kind))
                test["estimator"] = est
                if kind == "both":
                    test["note"] = (
                        "fixed and random effects added at once: naive chi-square (conservative)"
                    )
            elif "note" not in test:
                test["note"] = {
                    "not_nested": "models are not nested: compare by AIC/BIC",
                    "same": "same parameters",
                }.get(
                    kind, "LRT of fixed effects needs ML fits (add 'ml' to estimation.estimators)"
                )
            row["test"] = test
        rows.append(row)
    return {"models": rows, "estimators": estimators}


def comparison_table(comp: dict):
    """Flat pandas table of :func:`compare_sequence` output for the report."""
    out = []
    for r in comp["models"]:
        e = "ml" if "ml" in r else comp["estimators"][0]
        t = r.get("test", {})
        row = {
            "model": r["model"],
            "label": r["label"],
            "npar": r[e]["npar"],
            f"AIC ({e.upper()})": r[e]["aic"],
            f"BIC ({e.upper()})": r[e]["bic"],
            f"deviance ({e.upper()})": r[e]["deviance"],
            "test": t.get("kind", ""),
            "chisq": t.get("chisq", np.nan),
            "df": t.get("df", np.nan),
            "p": t.get("p", np.nan),
            "reference": t.get("reference", ""),
        }
        for g, v in r["prv"].items():
            row[f"PRV {g}"] = v
        out.append(row)
    return pd.DataFrame(out)
