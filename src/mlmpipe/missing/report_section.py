"""The report's missing-data section as a list of ``(kind, object)`` items: ``("md", text)``,
``("table", DataFrame)`` or ``("png", bytes)``; the notebook displays them in order."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from mlmpipe.missing.available import available_section
from mlmpipe.missing.targets import missing_targets
from mlmpipe.record import FitRecord

GRUND_NOTE = (
    "Imputation models have random intercepts and include the cluster means of the other level-1 "
    "variables and the products that enter the analysis models. Following Grund, Lüdtke & "
    "Robitzsch (2018), this recovers fixed effects; random-slope variances of predictors with "
    "missing values may be underestimated (no chained-equation method is unbiased for them), so "
    "pooled slope variances are reported with that caveat."
)


def _p_text(p: float) -> str:
    """'= .032', '< .001' or '> .999' (APA: no leading zero, never 'p = 1')."""
    return "< .001" if p < 0.001 else "> .999" if p > 0.999 else f"= {p:.3f}".replace("0.", ".", 1)


def _diagnostics(missing: dict) -> list:
    out = []
    lt = missing.get("little_mcar")
    if lt and lt.get("statistic") is None:
        out.append(("md", f"**Little's MCAR test**: {lt['note']}."))
    elif lt:
        out.append(
            (
                "md",
                f"**Little's MCAR test**: d² = {lt['statistic']:.2f}, df = {lt['df']}, "
                f"p {_p_text(lt['p'])} ({lt['patterns']} patterns, {lt['rows']} rows; {lt['note']}). "
                "A small p is evidence against MCAR; a large one does not establish MAR.",
            )
        )
    bc = missing.get("by_cluster")
    if bc:
        out.append(
            ("md", f"**Missingness by cluster** ({bc['clusters']} clusters of `{bc['cluster']}`):")
        )
        out.append(("table", pd.DataFrame(bc["bands"])))
    rows, notes = [], []
    for m in missing.get("indicator_models", []):
        if "error" in m:
            rows.append({"missing variable": m["variable"], "term": "—", "note": m["error"]})
        notes += [f"`{m['variable']}`: {n}" for n in m.get("notes", [])]
        for p in m["predictors"]:
            if p["term"] != "(Intercept)":
                rows.append(
                    {
                        "missing variable": m["variable"],
                        "term": p["term"],
                        "log-odds": p["estimate"],
                        "SE": p["se"],
                        "odds ratio": p["odds_ratio"],
                        "OR CI low": p.get("or_ci_low"),
                        "OR CI high": p.get("or_ci_high"),
                        "p": p["p"],
                        "cluster SD": m.get("cluster_sd"),
                    }
                )
    if rows:
        out.append(
            (
                "md",
                "**What predicts missingness**: multilevel logistic regression of each missingness "
                "indicator (1 = missing) on the other variables with a random intercept per "
                "cluster (Laplace approximation; level-2 variables at the cluster level), on the "
                "rows where those variables are observed. Odds ratios with Wald intervals; the "
                "cluster SD is the between-cluster spread of the log-odds of being missing. A "
                "clear predictor speaks against MCAR; MAR versus MNAR cannot be told from the data."
                + (" Notes: " + "; ".join(notes) + "." if notes else ""),
            )
        )
        out.append(("table", pd.DataFrame(rows)))
    return out


def _fmi_table(fits: list[FitRecord]) -> pd.DataFrame | None:
    rows = []
    for f in fits:
        if not f.is_pooled:
            continue
        for t in f.fixed:
            rows.append(
                {
                    "model": f.model,
                    "estimator": f.estimator,
                    "term": t.term,
                    "estimate": t.estimate,
                    "SE": t.se,
                    "df (Barnard-Rubin)": t.df,
                    "RIV": t.riv,
                    "FMI": t.fmi,
                }
            )
    return pd.DataFrame(rows) if rows else None


def missing_section(missing: dict, extra: list[str], fits: list[FitRecord] | None = None) -> list:
    """Items of the missing-data section; ``extra`` holds the paths of the missing-data figures and
    the delta analysis (``reports/figures/*.png``, ``reports/missing_delta.json``)."""
    files = {Path(p).name: Path(p) for p in extra}
    out = _diagnostics(missing)
    if "missing_patterns.png" in files:
        out.append(("png", files["missing_patterns.png"].read_bytes()))
    if "available" in missing:
        out += available_section(missing["available"], fits or [])
    info = missing.get("imputation")
    if info:
        out.append(
            (
                "md",
                f"**Multiple imputation**: {info['m']} imputations, {info['iterations']} iterations "
                f"per chain, seed {info['seed']}, clusters `{info['cluster']}` ({info['clusters']})"
                + (
                    f" nested in `{info['cluster3']}` ({info['units_per_level'][2]}; three-level "
                    "imputation models). "
                    if info.get("cluster3")
                    else ". "
                )
                + "Fits are pooled over imp1..imp{m} with Rubin's rules and Barnard-Rubin df; variance "
                "components on the log-SD / Fisher-z scale, the ICC on the logit scale, "
                "likelihood-ratio tests by D2. Centring means are recomputed on every imputed data "
                "set. Imputed values are flagged in `imputed_<variable>` columns. " + GRUND_NOTE,
            )
        )
        out.append(("table", pd.DataFrame(info["methods"]).T.rename_axis("variable").reset_index()))
        if "imputation_trace.png" in files:
            out.append(
                ("md", "Convergence: mean and SD of the imputed values per chain and iteration.")
            )
            out.append(("png", files["imputation_trace.png"].read_bytes()))
    fmi = _fmi_table(fits or [])
    if fmi is not None:
        out.append(("md", "**Pooled fixed effects** with the fraction of missing information:"))
        out.append(("table", fmi))
    if "missing_delta.json" in files:
        d = json.loads(files["missing_delta.json"].read_text())
        tp = d["tipping_point"]
        sides = [
            f"{s} side: δ = {tp[s]:.2f}" for s in ("negative", "positive") if tp[s] is not None
        ]
        text = "; ".join(sides) if sides else "none within the grid"
        out.append(
            (
                "md",
                f"**MNAR sensitivity (delta adjustment)**: imputed `{d['outcome']}` "
                + (
                    f"redrawn with the imputation model shifted by δ, a {d['units']}, "
                    if d.get("units")  # non-gaussian plans (mlmpipe.missing.delta_discrete)
                    else f"shifted by δ × {d['sd_observed']:.3g} (its observed SD) "
                )
                + f"in model `{d.get('model')}`; key effect `{d['term']}`. Tipping point "
                f"(p crosses {d['alpha']}): {text}.",
            )
        )
        out.append(("table", pd.DataFrame(d["rows"])))
        if "tipping_point.png" in files:
            out.append(("png", files["tipping_point.png"].read_bytes()))
    return out


def missing_report_inputs(plan) -> list[str]:
    """Files the report's missing-data section reads (for the report rule's input)."""
    return missing_targets(plan)
