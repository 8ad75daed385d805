"""The report's executive summary: the preregistered hypotheses with their verdicts and the key
numbers of the analysis in a few plain sentences, generated from the pipeline's artifacts.

The numbers are those the APA Journal Article Reporting Standards ask of a quantitative study
(Appelbaum et al. 2018, Am. Psychol. 73(1)), specialised to multilevel models as in Raudenbush &
Bryk (2002, ch. 4): sample sizes per level, the null model's ICC with its interval,
the final model's fixed effects with confidence intervals and p values, variance explained
(Nakagawa & Schielzeth 2013 marginal and conditional R^2), convergence problems, and the
robustness of the focal effect across the multiverse when one ran (Steegen et al. 2016).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from mlmpipe.prereg.tables import evaluate_hypotheses, reporting_fit
from mlmpipe.record import FitRecord
from mlmpipe.report.term_labels import factor_term_labels, term_label


@dataclass(frozen=True)
class ExecutiveSummary:
    """Plain-language summary (Markdown) and the hypotheses table behind its first paragraph."""

    text: str
    hypotheses: pd.DataFrame


def fmt_p(p: float | None) -> str:
    """APA style: ``p < .001`` or ``p = .034`` (no leading zero)."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "p not available"
    if p < 0.001:
        return "p < .001"
    return "p = " + f"{p:.3f}".lstrip("0")


def _num(x: float) -> str:
    s = f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"
    return s.replace("-", "\u2212")  # a typographic minus, as in the tables


def _hypothesis_sentences(hyp: pd.DataFrame, alpha: float) -> list[str]:
    if not len(hyp):
        return ["No hypotheses were preregistered (plan key `hypotheses:`)."]
    supported = int(hyp["verdict"].str.startswith("supported").sum())
    out = [f"**Preregistered hypotheses: {supported} of {len(hyp)} supported** (alpha = {alpha})."]
    for r in hyp.itertuples(index=False):
        if r.estimate is None or (isinstance(r.estimate, float) and math.isnan(r.estimate)):
            out.append(f"- {r.hypothesis} ({r.parameter}, {r.prediction}): {r.verdict}.")
        else:
            out.append(
                f"- {r.hypothesis} ({r.parameter} in {r.model}, predicted {r.prediction}): "
                f"estimate {_num(r.estimate)}, {int(round(100 * (1 - alpha)))}% CI {r.ci}, "
                f"{fmt_p(r.p)}: **{r.verdict}**."
            )
    return out


def _sample_sentence(desc: dict) -> str:
    parts = [f"{s['n']:,} {s['level']} units" for s in desc.get("structure", [])]
    if not parts:
        return ""
    if len(parts) == 1:
        return f"The analysed data hold {parts[0]}."
    return f"The analysed data hold {parts[0]} in " + " in ".join(parts[1:]) + "."


def _icc_sentence(es: dict, outcome: str) -> str:
    de, ci = es.get("design_effect"), es.get("icc_ci") or {}
    if not de:
        return ""
    level = int(round(100 * es.get("level", 0.95)))
    interval = (
        f" ({level}% {'CI pooled over imputations' if 'pooling' in es else 'profile CI'} "
        f"{ci['low']:.3f} to {ci['high']:.3f})"
        if "low" in ci and "high" in ci
        else ""
    )
    where = f"the variance of {outcome}"
    if es.get("scale"):  # GLMM / ordinal: latent scale (effects/latent.py)
        where = (
            f"the latent-scale variance of {outcome} (level-1 variance {es['scale']['level1']:.3g})"
        )
    return (
        f"In the null model ({es['null_model']}), the ICC is {de['icc']:.3f}{interval}: "
        f"{de['icc']:.0%} of {where} lies between {es['group']} units; the design "
        f"effect is {de['design_effect']:.2f} (effective sample size {de['n_effective']:,.0f} "
        f"of {int(de['n']):,})." + _vpc_sentence(es)
    )


def _vpc_sentence(es: dict) -> str:
    """With several grouping factors (crossed classifications, multiple membership, or nested
    levels), the null model's variance partition coefficient of each: tau_k^2 / (sum_j tau_j^2 +
    sigma^2) (Goldstein, Browne & Rasbash 2002; Goldstein 2011, ch. 12)."""
    icc = es.get("models", {}).get(es.get("null_model"), {}).get("icc") or {}
    if len(icc) < 2:
        return ""
    parts = ", ".join(f"{g} {v:.3f}" for g, v in icc.items())
    return f" Variance partition coefficients of the null model by grouping factor: {parts}."


def _final_sentences(
    spec: dict, rec: FitRecord | None, es: dict, alpha: float, labels: dict[str, str] | None = None
) -> list[str]:
    if rec is None:
        return [f"The final model ({spec['models'][-1]['name']}) was not fitted."]
    level = int(round(100 * (1 - alpha)))
    terms = [r for r in rec.fixed if r.term != "(Intercept)"]
    shown = [
        f"{term_label(r.term, labels or {})} {_num(r.estimate)} "
        f"[{_num(r.ci_low)}, {_num(r.ci_high)}], {fmt_p(r.p)}"
        for r in terms[:8]
    ]
    more = f" ({len(terms) - 8} more terms in the Models section)" if len(terms) > 8 else ""
    label = spec["models"][-1].get("label") or ""
    out = [
        f"The final model **{rec.label}**{f' ({label})' if label else ''}, "
        f"{rec.estimator.upper()}: `{rec.formula_text}`."
    ]
    if shown:
        out.append(f"Fixed effects with {level}% CIs: " + "; ".join(shown) + more + ".")
    ratios = [r for r in terms[:8] if r.exp_estimate is not None]
    if ratios:
        ratio = rec.family.ratio_name
        name = f"{ratio}s" if ratio else "exp(estimate)"
        out.append(
            f"As {name}: "
            + "; ".join(
                f"{term_label(r.term, labels or {})} {_num(r.exp_estimate)} [{_num(r.exp_ci_low)}, {_num(r.exp_ci_high)}]"
                for r in ratios
            )
            + "."
        )
    if rec.thresholds:
        out.append(
            f"{len(rec.thresholds)} thresholds separate the {len(rec.thresholds) + 1} "
            "ordered categories (Models section)."
        )
    nk = (es.get("models", {}).get(rec.label) or {}).get("nakagawa")
    if nk:
        out.append(
            f"Variance explained (Nakagawa{', latent scale' if es.get('scale') else ''}): "
            f"marginal R² = {nk['r2_marginal']:.3f} (fixed "
            f"effects), conditional R² = {nk['r2_conditional']:.3f} (fixed and random effects)."
        )
    return out


def _convergence_sentence(recs: list[FitRecord]) -> str:
    n_warn = sum(len(f.warnings) for f in recs)
    singular = sorted({f"{f.label} ({f.estimator})" for f in recs if f.singular})
    changed = sorted(
        {f.label for f in recs if (f.ladder or {}).get("used_rung", "as planned") != "as planned"}
    )
    text = f"Convergence: {n_warn} warning{'s' if n_warn != 1 else ''} across {len(recs)} fits"
    text += f"; singular fits: {', '.join(singular)}" if singular else "; no singular fit"
    if changed:
        text += f"; models changed by the preregistered ladder: {', '.join(changed)}"
    return text + " (details in the estimation decision log)."


# --- unresolved fits (issue 21: convergence.on_unresolved: warn) --------------------------------
def _unresolved_sentence(recs: list[FitRecord]) -> str:
    """A warning for every reported fit the convergence ladder left unresolved."""
    bad = []
    for f in recs:
        lad = f.ladder or {}
        if lad.get("resolved", True):
            continue
        decisions = lad.get("decisions") or [{}]
        bad.append(f"{f.label} ({f.estimator}: {decisions[0].get('outcome', 'unresolved')})")
    if not bad:
        return ""
    return (
        f"**Warning: unresolved estimation problem.** No registered remedy of the convergence "
        f"ladder resolved {', '.join(sorted(bad))}; the model as registered is reported, so "
        "read its variance components with care (convergence.on_unresolved: warn)."
    )


# -------------------------------------------------------------------------------------------------
def _sensitivity_sentence(section: dict | None) -> str:
    if section is None:
        return ""
    out = []
    for focal, r in section["summary"]["focal"].items():
        share = r["share_significant_same_sign"]
        out.append(
            f"{focal}: significant with the primary sign in {share:.0%} of {r['estimated']} "
            f"estimated specifications ({r['failed']} failed); most sensitive to {r['moves_most']}"
        )
    return "Robustness (multiverse): " + "; ".join(out) + "." if out else ""


def executive_summary(
    spec: dict, fits: list[FitRecord], desc: dict, es: dict, sensitivity: dict | None = None
) -> ExecutiveSummary:
    """The summary at the top of the report.

    ``spec``: the report slice of the plan (``hypotheses``, ``alpha``, ``models``, ``outcome``);
    ``fits``: the pooled fit records; ``desc``: the descriptives artifact; ``es``: the effect-size artifact
    (``{}`` when absent); ``sensitivity``: the multiverse section (``None`` when not planned).
    """
    alpha = spec["alpha"]
    hyp = evaluate_hypotheses(spec.get("hypotheses", []), fits, alpha)
    paragraphs = ["\n".join(_hypothesis_sentences(hyp, alpha))]
    key = [
        _sample_sentence(desc),
        _icc_sentence(es, spec["outcome"]),
        *_final_sentences(
            spec,
            reporting_fit(fits, spec["models"][-1]["name"]),
            es,
            alpha,
            factor_term_labels(desc),
        ),
        _convergence_sentence(fits),
        _unresolved_sentence(fits),
        _sensitivity_sentence(sensitivity),
    ]
    paragraphs.append(" ".join(s for s in key if s))
    return ExecutiveSummary("## Executive summary\n\n" + "\n\n".join(paragraphs), hyp)
