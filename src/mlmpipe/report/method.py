"""The report's auto-written *Method* paragraph (statistical analysis), generated from the plan's
report slice and the run's records, so it is rewritten whenever the plan or the data change.

It states what the APA Journal Article Reporting Standards ask of the analysis section
(Appelbaum et al. 2018, Am. Psychol. 73(1), table 1): software and version, estimator, the
inference method for fixed effects (denominator df: Satterthwaite 1946 / Kenward & Roger 1997),
centering (Enders & Tofighi 2007), the missing-data method with the number of imputations
(Rubin 1987), and what was done about convergence problems (the preregistered ladder).
"""

from __future__ import annotations

from collections import Counter

from mlmpipe.record import FitRecord

_DF = {
    "satterthwaite": "Satterthwaite's approximation (as lmerTest)",
    "kenward-roger": "the Kenward–Roger approximation",
    "kenward_roger": "the Kenward–Roger approximation",
    "kr": "the Kenward–Roger approximation",
    "residual": "the residual degrees of freedom",
}
_CENTER = {
    "group": "centred within {level} clusters (cluster means added as contextual predictors)",
    "grand": "centred at the grand mean",
    "none": "left uncentred",
}


def _join(items: list[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def software_sentence(prov: dict, fits: list[FitRecord]) -> str:
    pk = prov.get("packages", {})
    backends = sorted({f.backend for f in fits if getattr(f, "backend", None)})
    opt = sorted({f.optimizer.method for f in fits if f.optimizer is not None})
    via = f" (estimation backend {_join(backends)}" + (f", optimizer {_join(opt)})" if opt else ")")
    return (
        f"Models were estimated with mlmpipe {pk.get('mlmpipe', '(version unknown)')}"
        f"{via if backends else ''} in Python {prov.get('python', '')}".rstrip()
        + f", run as a Snakemake {pk.get('snakemake', '')} workflow (seed {prov.get('seed')})."
    )


def estimator_sentence(fits: list[FitRecord]) -> str:
    if not fits:
        return "No model was fitted."
    glmm = any(f.family.is_glmm for f in fits)
    est = sorted({f.estimator.upper() for f in fits})
    dfm = sorted({f.df_method for f in fits if f.df_method and not f.family.is_glmm})
    text = f"Each model of the sequence was estimated by {_join(est)}"
    if "REML" in est and "ML" in est:
        text += " (REML for the reported estimates, ML for likelihood-ratio tests of fixed effects)"
    text += "."
    if dfm:
        text += (
            " Fixed effects were tested with t tests whose denominator degrees of freedom use "
            + _join([_DF.get(d, d) for d in dfm])
            + "."
        )
    if glmm:
        text += " Fixed effects of non-gaussian models were tested with Wald z tests."
    return text


def centering_sentence(centering: dict) -> str:
    rows = centering.get("log", [])
    if not rows:
        return "Predictors were used as measured (no centering planned)."
    parts = [
        f"{r['variable']} {_CENTER.get(r['method'], r['method']).format(level=_cluster(r))}"
        for r in rows
    ]
    return "Centering: " + "; ".join(parts) + "."


def _cluster(row: dict) -> str:
    d = row.get("description", "")
    return d.split(" within ", 1)[1].split(" ", 1)[0] if " within " in d else "its"


def missing_sentence(missing: dict) -> str:
    method, m = missing.get("method", "listwise"), missing.get("m") or 0
    lost = missing.get("rows_lost_listwise", 0)
    rows = missing.get("rows")
    if method == "listwise":
        if not lost:
            return f"No analysed variable had missing values ({rows} complete rows)."
        return f"Rows with a missing value were deleted listwise ({lost} of {rows} rows)."
    return (
        f"Missing values ({rows - missing.get('complete_rows', rows)} incomplete rows of {rows}) "
        f"were multiply imputed ({method}, m = {m}); estimates were pooled with Rubin's rules."
    )


def convergence_sentence(log: dict) -> str:
    fits = log.get("fits", [])
    if not fits:
        return ""
    used = Counter(f["used_rung"] for f in fits)
    unresolved = [f for f in fits if not f.get("resolved", True)]
    n = len(fits)
    if set(used) == {"as planned"} and not unresolved:
        return (
            f"All {n} fits converged as registered; the preregistered ladder for non-convergence "
            "and singular fits was not needed."
        )
    changed = ", ".join(f"{k} ({v})" for k, v in used.items() if k != "as planned")
    text = f"Of {n} fits, {used.get('as planned', 0)} converged as registered; the preregistered ladder changed the others: {changed}."
    if unresolved:
        text += f" {len(unresolved)} fit(s) remained unresolved."
    return text + bayes_modal_sentence(fits)


def bayes_modal_sentence(fits: list[dict]) -> str:
    """The sentence on fits the ladder's ``bayes_modal`` rung kept (decision-log rows), or ""."""
    modal = [f for f in fits if f.get("used_rung") == "bayes_modal"]
    if not modal:
        return ""
    priors = sorted(
        {
            d.get("prior", "blme")
            for f in modal
            for d in f["decisions"]
            if d["rung"] == "bayes_modal"
        }
    )
    return (
        f" {len(modal)} fit(s) were estimated as Bayesian modal fits (the posterior mode under the "
        f"prior {', '.join(priors)} on the random-effect covariances; Chung et al. 2013), which "
        "keeps their random structure off the boundary instead of removing a random effect."
    )


def method_paragraph(
    spec: dict, prov: dict, fits: list[FitRecord], missing: dict, centering: dict, log: dict
) -> str:
    """The *Method* paragraph (Markdown) of the report."""
    levels = " within ".join(n for n, _ in spec.get("levels", []))
    models = spec.get("models", [])
    seq = (
        f"The outcome {spec.get('outcome')} was analysed with a sequence of {len(models)} "
        f"multilevel models ({levels}), from the null model to the final model "
        f"({models[-1]['name']})."
        if models
        else ""
    )
    alpha = f"Tests used alpha = {spec.get('alpha')} (two-sided)."
    parts = [
        seq,
        estimator_sentence(fits),
        centering_sentence(centering),
        missing_sentence(missing),
        convergence_sentence(log),
        alpha,
        software_sentence(prov, fits),
    ]
    return " ".join(p for p in parts if p)
