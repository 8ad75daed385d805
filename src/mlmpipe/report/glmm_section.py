"""The report's section for binary, count and ordinal outcomes (GLMMs) as ``(kind, object)`` items:
``("md", text)``, ``("table", DataFrame)`` or ``("png", bytes)``; empty for linear models.

Per model: exponentiated fixed effects with their Wald intervals (odds ratios for logit links,
cumulative odds ratios for ordinal logit, rate ratios for log links; probit and cloglog
coefficients are not exponentiated), and the ICC on the latent scale (level-1 variance pi^2/3 for
logit, 1 for probit, pi^2/6 for cloglog; Snijders & Bosker 2012, sec. 17.3) or the Poisson/NB VPC
(lognormal approximation; Nakagawa, Johnson & Schielzeth 2017). For the final model: the prediction
plot and the predictions at the planned covariate values (``effects/glmm_predictions.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from mlmpipe.record import FitRecord
from mlmpipe.report.ordinal_section import how_to_read, ordinal_items

SCALE = {
    "latent": "latent scale (level-1 variance {v:.4g})",
    "vpc-lognormal": "VPC, lognormal approximation (level-1 variance {v:.4g})",
}


def ratio_table(rec: FitRecord) -> pd.DataFrame | None:
    """Term, link-scale estimate and SE, exponentiated estimate with its CI, z and p; None when the
    link has no ratio interpretation."""
    t = rec.fixed_frame()
    if "exp_estimate" not in t.columns:
        return None
    name = rec.family.ratio_name
    cols = {"estimate": "estimate (link)", "se": "SE", "exp_estimate": name}
    t = t.rename(columns=cols | {"exp_ci_low": "CI low", "exp_ci_high": "CI high"})
    return t[["term", "estimate (link)", "SE", name, "CI low", "CI high", "z", "p"]]


def icc_rows(recs: list[FitRecord]) -> pd.DataFrame:
    """ICC/VPC per model and grouping factor with the scale it is on."""
    rows = []
    for f in recs:
        scale = SCALE.get(f.family.icc_scale, "{v}").format(v=f.level1_variance or 0.0)
        for g, v in (f.icc or {}).items():
            rows.append({"model": f.label, "level": g, "ICC": v, "scale": scale})
    return pd.DataFrame(rows)


def predictions_table(pred: dict, kinds=("conditional", "population-averaged")) -> pd.DataFrame:
    """One row per covariate combination; per kind of prediction ``fit [low, high]`` columns
    (ordinal: one row per category)."""
    t = pd.DataFrame(pred["table"])
    t = t[t["kind"].isin(kinds)]
    keys = list(pred["variables"]) + (["category"] if pred["family"] == "ordinal" else [])
    wide = None
    for kind in kinds:
        s = t[t["kind"] == kind][keys + ["fit", "low", "high"]].reset_index(drop=True)
        short = "typical cluster" if kind == "conditional" else kind
        s = s.rename(columns={c: f"{short}: {c}" for c in ("fit", "low", "high")})
        wide = s if wide is None else pd.concat([wide, s.drop(columns=keys)], axis=1)
    return wide


def cluster_table(pred: dict) -> pd.DataFrame:
    """Cluster-specific predictions, one column per named cluster (intervals in the JSON)."""
    t = pd.DataFrame(pred["table"])
    keys = list(pred["variables"]) + (["category"] if pred["family"] == "ordinal" else [])
    base = t[t["kind"] == "conditional"][keys].reset_index(drop=True)
    for cl in dict.fromkeys(t.loc[t["kind"] == "cluster", "cluster"]):
        base[cl] = t[t["cluster"] == cl]["fit"].to_numpy()
    return base


def _prediction_items(paths: list[str]) -> list:
    pred = json.loads(Path(paths[0]).read_text())
    what = {"binomial": "probabilities", "ordinal": "category probabilities"}.get(
        pred["family"], "counts"
    )
    out: list = [("md", f"### Predicted {what} of {pred['model']}\n{pred['method']}")]
    figs = sorted(Path(paths[1]).glob("*.png")) if len(paths) > 1 else []
    for p in figs:
        out.append(("png", p.read_bytes()))
    if figs:
        out.append(
            (
                "md",
                f"Against `{pred['focal']}`"
                + (f", lines for `{pred['moderator']}`" if pred["moderator"] else "")
                + "; other variables at their mean or first level. Solid: typical cluster; "
                "dashed: population-averaged; bands: the intervals described above.",
            )
        )
    how = "planned (`report.predictions.at`)" if pred["planned"] else "default"
    note = f" ({pred['grid_note']})" if pred.get("grid_note") else ""
    m = pred.get("imputations") or 0
    pooled = f", pooled over {m} imputations" if m > 1 else ""
    out.append(("md", f"Predictions at the {how} covariate values{note}{pooled}:"))
    out.append(("table", predictions_table(pred)))
    clusters = "; ".join(f"{g}: {', '.join(v)}" for g, v in pred["clusters"].items())
    out.append(
        (
            "md",
            f"Cluster-specific predictions (conditional modes) for {clusters} (intervals in "
            "`reports/predictions.json`: fixed effects and the modes' conditional variance):",
        )
    )
    out.append(("table", cluster_table(pred)))
    return out


def glmm_section(recs: list[FitRecord], predictions: list[str]) -> list:
    """Items of the section (see the module docstring); [] when no fit is a GLMM."""
    glmms = [f for f in recs if f.family.is_glmm]
    if not glmms:
        return []
    fam0 = glmms[0].family
    out: list = [
        (
            "md",
            f"## {fam0.name.capitalize()} outcome ({fam0.link} link)\n"
            "Fixed effects exponentiated with their Wald intervals, and the intraclass correlation "
            "on the latent scale (VPC for counts).",
        )
    ]
    if fam0.is_ordinal:
        out.append(("md", how_to_read(glmms[0])))
    for f in glmms:
        if f.family.is_ordinal:
            out += ordinal_items(f)
        t = ratio_table(f) if f.fixed else None
        if t is None:
            why = "no predictors" if not f.fixed else "coefficients are not exponentiated"
            out.append(("md", f"**{f.label}**: {f.family.link} link, {why}."))
            continue
        out.append(("md", f"**{f.label}** ({f.estimator.upper()})"))
        out.append(("table", t))
    out.append(("md", "**ICC / VPC** of every model (later models: residual ICC):"))
    out.append(("table", icc_rows(glmms)))
    if predictions:
        out += _prediction_items(predictions)
    return out
