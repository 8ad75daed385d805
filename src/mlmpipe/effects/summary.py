"""All effect sizes of a model sequence in one JSON-able dict (the ``effects`` rule's artifact), and
flat tables of it for the report."""

from __future__ import annotations

import math

import pandas as pd

from mlmpipe.compare import prv
from mlmpipe.effects.icc_ci import icc_profile_ci
from mlmpipe.effects.latent import ICC_CI_NOTE, SKIPPED, latent_standardized
from mlmpipe.effects.parts import fit_parts
from mlmpipe.effects.r2 import nakagawa_r2, snijders_bosker_r2
from mlmpipe.effects.rights_sterba import rights_sterba
from mlmpipe.effects.standardized import design_effect, standardized_coefficients
from mlmpipe.errors import EstimationError
from mlmpipe.record import FitRecord


def _prv(null: FitRecord, rec: FitRecord) -> dict:
    return prv(null, rec)


def effect_sizes(
    models: list[str], fits: dict[str, FitRecord], data: pd.DataFrame, level: float = 0.95
) -> dict:
    """Effect sizes of each model in ``models`` (sequence order; the first is the null model).

    ``fits``: model name -> fit record (REML fits when planned) fitted to ``data``. Per model:
    ICC per level, Nakagawa R^2, Snijders & Bosker R^2, proportional reduction in variance
    (Raudenbush & Bryk 2002, sec. 4.4), Rights & Sterba decomposition and standardized coefficients;
    for the null model also the profile interval of the ICC and the design effect. Binary, count
    and ordinal fits: latent-scale ICC, Nakagawa R^2 and standardized coefficients only, with the
    reasons for the rest under ``skipped`` (:mod:`mlmpipe.effects.latent`).
    """
    null_name = models[0]
    null_rec = fits[null_name]
    null = fit_parts(null_rec, data)
    group = next(iter(null.terms))
    tau0 = float(null.terms[group][2][0, 0])
    out: dict = {"null_model": null_name, "group": group, "level": level, "models": {}}
    icc0 = null_rec.intraclass_correlations()
    latent = null_rec.family.latent  # GLMM / ordinal: latent scale (effects/latent.py)
    if latent:
        out["scale"] = {"name": null_rec.family.icc_scale, "level1": null_rec.level1_variance}
        out["icc_ci"] = {"note": ICC_CI_NOTE}
    else:
        try:
            out["icc_ci"] = icc_profile_ci(null_rec, data, level)
        except EstimationError as exc:
            out["icc_ci"] = {"note": str(exc)}
    out["design_effect"] = design_effect(icc0[group], null.terms[group][0])
    for name in models:
        rec = fits[name]
        parts = null if name == null_name else fit_parts(rec, data)
        if latent:
            out["models"][name] = {
                "icc": rec.intraclass_correlations(),
                "nakagawa": nakagawa_r2(parts),
                "standardized": latent_standardized(parts, group),
                "skipped": SKIPPED,
            }
            continue
        entry = {
            "icc": rec.intraclass_correlations(),
            "nakagawa": nakagawa_r2(parts),
            "snijders_bosker": snijders_bosker_r2(null, parts, group),
            "prv": _prv(null_rec, rec),
            "standardized": standardized_coefficients(parts, null.sigma2, tau0, group),
        }
        if len(parts.terms) == 1:
            entry["rights_sterba"] = rights_sterba(parts, group)
        out["models"][name] = entry
    return out


def r2_table(es: dict) -> pd.DataFrame:
    """One row per model: ICCs, Nakagawa, Snijders & Bosker, PRV and Rights & Sterba totals."""
    rows = []
    for name, e in es["models"].items():
        nk, sb = e["nakagawa"], e.get("snijders_bosker")
        row = {
            "model": name,
            "ICC (adjusted)": nk["icc_adjusted"],
            "R2 marginal": nk["r2_marginal"],
            "R2 conditional": nk["r2_conditional"],
        }
        if sb:  # linear models only (effects/latent.py: SKIPPED)
            row["S&B R2 level 1"], row["S&B R2 level 2"] = sb["r2_level1"], sb["r2_level2"]
        for g, v in e.get("prv", {}).items():
            row[f"PRV {g}"] = v
        rs = e.get("rights_sterba")
        if rs:
            row["R&S R2 total (f)"] = rs["r2"]["total"]["f"]
            row["R&S R2 within (f1)"] = rs["r2"]["within"]["f1"]
            row["R&S R2 between (f2)"] = rs["r2"]["between"]["f2"]
        rows.append(row)
    return pd.DataFrame(rows)


def rights_sterba_table(es: dict) -> pd.DataFrame:
    """Long table: model x scope (total/within/between) x source -> share of variance."""
    rows = []
    for name, e in es["models"].items():
        rs = e.get("rights_sterba")
        if not rs:
            continue
        for scope in ("total", "within", "between"):
            for src, share in rs["r2"][scope].items():
                if src in ("f", "fv", "fvm"):
                    continue
                rows.append({"model": name, "scope": scope, "source": src, "share": share})
    return pd.DataFrame(rows)


def standardized_table(es: dict, model: str) -> pd.DataFrame:
    return pd.DataFrame(es["models"][model]["standardized"])


def icc_summary_table(es: dict) -> pd.DataFrame:
    """ICC of the null model with its interval, design effect and effective sample size."""
    ci, de = es["icc_ci"], es["design_effect"]
    return pd.DataFrame(
        [
            {
                "ICC": de["icc"],
                f"{int(round(100 * es['level']))}% CI low": ci.get("low", math.nan),
                "CI high": ci.get("high", math.nan),
                "CI method": ci.get("method", ci.get("note", "")),
                "mean cluster size": de["mean_cluster_size"],
                "design effect": de["design_effect"],
                "N": de["n"],
                "effective N": de["n_effective"],
            }
        ]
    )
