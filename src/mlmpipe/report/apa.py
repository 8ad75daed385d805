"""APA 7 tables of a multilevel analysis, built from the pipeline's artifacts.

Each builder returns an :class:`ApaTable` (number, italic title, a DataFrame of formatted cells and a
general note); :mod:`mlmpipe.report.export` writes it as HTML, DOCX, LaTeX (booktabs) and CSV.
Formatting follows the APA Publication Manual (7th ed., ch. 7): two decimals, no leading zero for
values bounded by 1 (correlations, p, R^2), ``p < .001`` for small p, and a note explaining
abbreviations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlmpipe.record import FitRecord
from mlmpipe.report.term_labels import factor_term_labels, term_label


@dataclass(frozen=True)
class ApaTable:
    number: int
    title: str
    body: pd.DataFrame
    note: str = ""


def fmt(x, digits: int = 2, leading_zero: bool = True) -> str:
    """A number as APA text: fixed decimals, minus sign, optional leading zero; '' for missing."""
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return ""
    s = f"{float(x):.{digits}f}"
    if re.fullmatch(r"-0\.?0*", s):  # -0.001 rounded: APA prints 0.00, not a signed zero
        s = s[1:]
    if not leading_zero:
        s = s.replace("0.", ".", 1)
    return s.replace("-", "\u2212")


def fmt_p(p) -> str:
    if p is None or (isinstance(p, float) and not np.isfinite(p)):
        return ""
    return "< .001" if p < 0.001 else fmt(p, 3, leading_zero=False)


def stars(p) -> str:
    if p is None or not np.isfinite(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


# ------------------------------------------------------------------ descriptives
def descriptives_table(desc: dict, number: int = 1) -> ApaTable:
    """Descriptives per level: N, M, SD (total, between and within clusters), range; categorical
    variables as the percentage in each category."""
    rows = []
    for v in desc["variables"]:
        base = {"Level": v["level"], "Variable": v["variable"], "N": str(v["n"])}
        if "categories" in v:
            for cat, share in v["categories"].items():
                rows.append(
                    {**base, "Variable": f"{v['variable']}: {cat}", "M / %": fmt(100 * share, 1)}
                )
            continue
        sd_b = next((val for k, val in v.items() if k.startswith("sd_between")), None)
        sd_w = next((val for k, val in v.items() if k.startswith("sd_within")), None)
        rows.append(
            {
                **base,
                "M / %": fmt(v["mean"]),
                "SD": fmt(v["sd"]),
                "SD between": fmt(sd_b),
                "SD within": fmt(sd_w),
                "Min": fmt(v["min"]),
                "Max": fmt(v["max"]),
            }
        )
    body = pd.DataFrame(rows).fillna("")
    note = (
        "Level-1 variables are described over level-1 units, level-2 variables over clusters. "
        "SD between = SD of cluster means; SD within = pooled within-cluster SD. Categorical "
        "variables: percentage of units in each category."
    )
    return ApaTable(number, "Descriptive Statistics per Level", body, note)


# ------------------------------------------------------------------ correlations
def _numeric(data: pd.DataFrame, variables: list[str]) -> pd.DataFrame:
    """Numeric columns as they are; two-category columns as 0/1 indicators of the second category."""
    out = {}
    for v in variables:
        col = data[v]
        if isinstance(col.dtype, pd.CategoricalDtype) or col.dtype == object:
            cats = (
                list(col.cat.categories)
                if isinstance(col.dtype, pd.CategoricalDtype)
                else sorted(col.dropna().unique())
            )
            if len(cats) != 2:
                continue
            out[f"{v} ({cats[1]})"] = (col == cats[1]).astype(float).where(col.notna())
        elif pd.api.types.is_numeric_dtype(col):
            out[v] = col.astype(float)
    return pd.DataFrame(out, index=data.index)


def within_between_correlations(
    data: pd.DataFrame, level1: list[str], level2: list[str], group: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Within-cluster correlations of level-1 variables (of deviations from cluster means, pooled
    over clusters) and between-cluster correlations of cluster means (one row per cluster) of all
    variables (Snijders & Bosker 2012, sec. 3.6)."""
    X1 = _numeric(data, level1)
    X2 = _numeric(data, level2)
    g = data[group]
    dev = X1 - X1.groupby(g).transform("mean")
    within = dev.corr()
    means = pd.concat([X1, X2], axis=1).groupby(g).mean()
    between = means.corr()
    return within, between


def correlations_table(
    data: pd.DataFrame, level1: list[str], level2: list[str], group: str, number: int = 2
) -> ApaTable:
    """One matrix: within-cluster correlations below the diagonal, between above."""
    within, between = within_between_correlations(data, level1, level2, group)
    names = list(between.columns)
    body = pd.DataFrame(
        "",
        index=[f"{i + 1}. {n}" for i, n in enumerate(names)],
        columns=[str(i + 1) for i in range(len(names))],
    )
    for i, a in enumerate(names):
        body.iloc[i, i] = "\u2014"
        for j, b in enumerate(names):
            if j > i:
                body.iloc[i, j] = fmt(between.loc[a, b], leading_zero=False)
            elif j < i and a in within.index and b in within.index:
                body.iloc[i, j] = fmt(within.loc[a, b], leading_zero=False)
    body = body.reset_index().rename(columns={"index": "Variable"})
    note = (
        f"Below the diagonal: within-{group} correlations of level-1 variables (deviations from "
        f"{group} means); above the diagonal: between-{group} correlations of {group} means "
        f"({data[group].nunique()} {group} clusters). Two-category variables are coded 0/1 for the "
        "category shown."
    )
    return ApaTable(number, f"Within- and Between-{group.capitalize()} Correlations", body, note)


# ------------------------------------------------------------------ model sequence
def _random_rows(rec: FitRecord) -> dict[str, str]:
    out = {}
    for r in rec.random:
        if r.group == "Residual":
            out["\u03c3\u00b2 (residual)"] = fmt(r.vcov)
        elif r.term2 is None:
            out[f"\u03c4\u00b2 {r.group}: {r.term1}"] = fmt(r.vcov)
        else:
            out[f"\u03c1 {r.group}: {r.term1}, {r.term2}"] = fmt(r.sdcor, leading_zero=False)
    return out


def model_sequence_table(
    models: list[dict],
    fits: dict[tuple[str, str], FitRecord],
    effects: dict | None = None,
    number: int = 3,
    term_labels: dict[str, str] | None = None,
) -> ApaTable:
    """The sequence side by side: fixed effects b (SE) with significance marks, the random part
    (variances, correlations), ICC, N per level, deviance/AIC/BIC and Nakagawa R^2.

    ``models``: ``[{"name", "label"}]``; ``fits``: ``{(model, estimator): record}``. Estimates come
    from the REML fits when planned; deviance and information criteria from the ML fits when
    planned (the comparable ones for models differing in fixed effects).
    """
    est = "reml" if any(e == "reml" for _m, e in fits) else "ml"
    ic_est = "ml" if any(e == "ml" for _m, e in fits) else est
    terms: list[str] = []
    for m in models:
        for t in fits[(m["name"], est)].fixed_terms:
            if t not in terms:
                terms.append(t)
    cols = {}
    rand_keys: list[str] = []
    for m in models:
        fit = fits[(m["name"], est)]
        col: dict[str, str] = {"Fixed effects": ""}
        fixed = {f.term: f for f in fit.fixed}
        for t in terms:
            f = fixed.get(t)
            col[t] = "" if f is None else f"{fmt(f.estimate)}{stars(f.p)} ({fmt(f.se)})"
        col["Random part"] = ""
        rr = _random_rows(fit)
        rand_keys += [k for k in rr if k not in rand_keys]
        col.update(rr)
        cols[m["name"]] = col
        ic = fits[(m["name"], ic_est)]
        col["Model fit"] = ""
        for g, n in ic.ngroups.items():
            col[f"N {g}"] = str(n)
        col["N observations"] = str(ic.nobs)
        col[f"Deviance ({ic_est.upper()})"] = fmt(ic.deviance)
        col[f"AIC ({ic_est.upper()})"] = fmt(ic.aic)
        col[f"BIC ({ic_est.upper()})"] = fmt(ic.bic)
        if effects and m["name"] in effects["models"]:
            nk = effects["models"][m["name"]]["nakagawa"]
            col["ICC (adjusted)"] = fmt(nk["icc_adjusted"], leading_zero=False)
            col["R\u00b2 marginal"] = fmt(nk["r2_marginal"], leading_zero=False)
            col["R\u00b2 conditional"] = fmt(nk["r2_conditional"], leading_zero=False)
    order = ["Fixed effects", *terms, "Random part", *rand_keys]
    rest = [k for c in cols.values() for k in c if k not in order]
    order += list(dict.fromkeys(rest))
    body = pd.DataFrame(
        {name: [c.get(k, "") for k in order] for name, c in cols.items()}, index=order
    )
    if term_labels:
        body.index = [term_label(k, term_labels) if k in terms else k for k in order]
    body = body.reset_index().rename(columns={"index": "Parameter"})
    labels = "; ".join(f"{m['name']} = {m['label']}" for m in models)
    kr = any(fits[(m["name"], est)].df_method == "kenward_roger" for m in models)
    df_note = "Kenward\u2013Roger SEs and df" if kr else "Satterthwaite df"
    note = (
        f"Fixed effects: b (SE) from {est.upper()} fits; * p < .05, ** p < .01, *** p < .001 "
        f"(t tests with {df_note}). \u03c4\u00b2 = random-effect variance; \u03c1 = "
        f"correlation; \u03c3\u00b2 = level-1 residual variance. R\u00b2 after Nakagawa & "
        f"Schielzeth (2013) with Johnson's (2014) extension. Models: {labels}."
    )
    return ApaTable(number, "Multilevel Models of the Sequence", body, note)


# ------------------------------------------------------------------ comparison
def comparison_table(comparison: dict, number: int = 4) -> ApaTable:
    """Consecutive likelihood-ratio tests with information criteria."""
    rows = []
    for r in comparison["models"]:
        e = "ml" if "ml" in r else comparison["estimators"][0]
        t = r.get("test", {})
        chisq = t.get("chisq")
        rows.append(
            {
                "Model": r["model"],
                "k": str(r[e]["npar"]),
                "Deviance": fmt(r[e]["deviance"]),
                "AIC": fmt(r[e]["aic"]),
                "BIC": fmt(r[e]["bic"]),
                "Test": f"vs {t['against']} ({t['kind']})" if t else "",
                "\u03c7\u00b2": fmt(chisq) if chisq is not None else "",
                "df": str(t["df"]) if "df" in t else "",
                "p": fmt_p(t.get("p")) if "p" in t else "",
            }
        )
    note = (
        "k = number of parameters; deviance, AIC and BIC from ML fits when planned. Each model is "
        "tested against the previous one: added fixed effects by the LRT of ML fits against "
        "\u03c7\u00b2(df); an added variance component by the LRT of REML fits against the 50:50 "
        "mixture of \u03c7\u00b2(df \u2212 1) and \u03c7\u00b2(df) (Stram & Lee, 1994)."
    )
    return ApaTable(number, "Comparison of the Model Sequence", pd.DataFrame(rows), note)


TABLE_NAMES = ("descriptives", "correlations", "models", "comparison")


def build_tables(
    desc: dict,
    data: pd.DataFrame,
    fits: list[FitRecord],
    comparison: dict,
    effects: dict,
    spec: dict,
) -> dict[str, ApaTable]:
    """The four APA tables of the report, keyed by :data:`TABLE_NAMES`.

    ``spec``: the compare slice of the plan (models, levels as ``[name, id]``); variables are taken
    from the descriptives (each at its level), the clustering column from the second level.
    """
    levels = [lv[0] for lv in spec["levels"]]
    group = spec["levels"][1][1]
    level1 = [v["variable"] for v in desc["variables"] if v["level"] == levels[0]]
    level2 = [v["variable"] for v in desc["variables"] if v["level"] == levels[1]]
    by_key = {(f.model, f.estimator): f for f in fits}
    models = [{"name": m["name"], "label": m["label"]} for m in spec["models"]]
    return {
        "descriptives": descriptives_table(desc, 1),
        "correlations": correlations_table(data, level1, level2, group, 2),
        "models": model_sequence_table(models, by_key, effects, 3, factor_term_labels(desc)),
        "comparison": comparison_table(comparison, 4),
    }
