"""The human-readable preregistration generated from the plan (Markdown, HTML, DOCX).

The sections follow the parts of the secondary-data preregistration template of van den Akker et
al. (2021, "Preregistration of secondary data analysis: A template and tutorial", Meta-Psychology 5,
doi:10.15626/MP.2020.2625) where the plan holds the answer: study information (research questions,
hypotheses), data description, variables, knowledge of the data, analyses (models, estimation and
inference criteria, missing data, decision rules for estimation problems, robustness analyses),
and the freeze record. Fields the plan does not hold are listed as "not stated in the plan" rather
than left out, so a reader sees what was not registered.

HTML is rendered with mistune (already installed with nbconvert); DOCX with pandoc, through
``pypandoc`` (the ``pypandoc-binary`` wheel ships pandoc) or a ``pandoc`` on PATH; without either
the DOCX is skipped and the freeze record says so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from mlmpipe.prereg.priors import estimation_method_lines, rung_prior_text

if TYPE_CHECKING:
    from mlmpipe.plan import Plan

NOT_STATED = "_not stated in the plan_"
RUNG_TEXT = {
    "rescale": "rescale the continuous predictors (divide by their SD)",
    "restart": "restart the optimizer from other starting values",
    "optimizer": "refit with another optimizer",
    "uncorrelated": "drop the random-effect correlations (`|` becomes `||`)",
    "bayes_modal": "refit the model as a Bayesian modal fit (posterior mode under a weakly "
    "informative prior on the random-effect covariances; Chung et al. 2013), keeping its random part",
    "drop_smallest_variance": "drop the random effect with the smallest variance",
}
TRIGGER_TEXT = {"nonconvergence": "non-convergence", "singular": "a singular fit"}
DIRECTION_TEXT = {"positive": "> 0", "negative": "< 0", "nonzero": "!= 0 (two-sided)"}


def _table(header: list[str], rows: list[list]) -> list[str]:
    def cell(v) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return out + [""]


def preregistration_markdown(plan: Plan, record: dict) -> str:
    """The preregistration document as Markdown (see the module docstring for its sections)."""
    cfg = plan.config
    pre = cfg.get("preregistration", {})
    title = pre.get("title") or f"Preregistration: {plan.project}"
    md = [f"# {title}", ""]
    if pre.get("authors"):
        md += [f"Authors: {', '.join(pre['authors'])}", ""]
    md += [
        f"Frozen {record['frozen_at']} by mlmpipe from `{record['plan_file']}`; plan SHA-256 "
        f"`{record['plan_sha256']}`. Sections follow the secondary-data preregistration template "
        "of van den Akker et al. (2021).",
        "",
        "## 1. Study information",
        "",
        "### Research questions",
        "",
    ]
    rq = pre.get("research_questions") or []
    md += [f"{i}. {q}" for i, q in enumerate(rq, 1)] or [NOT_STATED]
    md += ["", "### Hypotheses", ""]
    hyps = cfg.get("hypotheses") or []
    if hyps:
        md += _table(
            ["Hypothesis", "Statement", "Model", "Parameter", "Prediction"],
            [
                [
                    h["name"],
                    h["text"],
                    h["model"],
                    f"`{h['parameter']}`",
                    DIRECTION_TEXT[h["direction"]],
                ]
                for h in hyps
            ],
        )
        md.append(
            f"A hypothesis is supported when the estimate has the predicted sign and its test "
            f"(two-sided, alpha = {plan.alpha}; one-sided predictions are judged by sign and the "
            "two-sided p-value) rejects zero."
        )
    else:
        md.append(NOT_STATED)
    md += ["", "## 2. Data description", ""]
    raw = record.get("raw_sha256")
    md += [
        f"- Source: {cfg['data']['source']}"
        + (
            f" (bundled example `{cfg['data']['example']}`)"
            if cfg["data"]["source"] == "example"
            else ""
        ),
        f"- File: `{record['raw_file']}` (format {cfg['data']['format']})",
        f"- SHA-256 at freezing: `{raw}`"
        if raw
        else f"- SHA-256 at freezing: {record.get('raw_note')}",
        f"- Structure: {len(plan.levels)} levels, "
        + " within ".join(
            f"{lv.name}" + (f" (ID `{lv.id}`)" if lv.id else "") for lv in plan.levels
        ),
        "",
        "## 3. Variables",
        "",
    ]
    rows = [
        [
            plan.outcome,
            plan.levels[0].name,
            "outcome",
            "continuous",
            "none",
            "",
            str(plan.outcome_range or ""),
        ]
    ]
    for p in plan.predictors:
        derived = []
        if p.centering != "none":
            derived.append(f"`{plan.centered_name(p)}`")
        if p.centering == "group":
            derived.append(f"`{plan.cluster_mean_name(p)}`")
        rows.append(
            [
                p.name,
                p.level,
                "predictor",
                p.type + (f" {list(p.levels)}" if p.levels else ""),
                p.centering,
                ", ".join(derived),
                str(p.range or ""),
            ]
        )
    md += _table(["Variable", "Level", "Role", "Type", "Centering", "Derived", "Range"], rows)
    md += ["", "## 4. Knowledge of the data", "", pre.get("prior_knowledge") or NOT_STATED, ""]
    md += ["## 5. Analyses", "", "### Statistical models (staged sequence)", ""]
    md += _table(
        ["Model", "Label", "Formula (lme4 syntax)"],
        [[m.name, m.label, m.formula] for m in plan.models],
    )
    md += [
        "### Estimation and inference criteria",
        "",
        f"- Estimators: {', '.join(e.upper() for e in plan.estimators)}; engine {plan.backend}",
        f"- alpha = {plan.alpha}; fixed effects: t tests with Satterthwaite degrees of freedom",
        "- Model comparison: likelihood-ratio tests between consecutive models (ML for fixed "
        "effects; REML with the chi-bar-square mixture for an added variance component)",
        f"- Seed for every random step: {plan.seed}",
        *estimation_method_lines(cfg.get("estimation") or {}),
        "",
        "### Data checks",
        "",
    ]
    md += [f"- {k}: {v}" for k, v in sorted(plan.checks.items())] + [""]
    md += ["### Missing data", ""]
    md += [f"- {k}: {v}" for k, v in sorted(plan.missing.items())] + [""]
    conv = cfg.get("convergence") or {}
    md += ["### Decision rules for estimation problems", ""]
    if conv.get("rungs"):
        md.append(
            f"When a fit shows {' or '.join(TRIGGER_TEXT[t] for t in conv['triggers'])}, "
            "the following remedies are tried in this order; the first fit without the problem is used, "
            "and if none removes it the model as registered is reported with the problem flagged:"
        )
        md.append("")
        for i, r in enumerate(conv["rungs"], 1):
            extra = f" ({conv['optimizer']})" if r == "optimizer" else ""
            if r == "bayes_modal":
                extra = f" (prior: {rung_prior_text(conv.get('prior'))})"
            md.append(f"{i}. {RUNG_TEXT[r]}{extra}")
        md.append("")
        md.append(
            "The same rule is applied to every imputation and every sensitivity specification; "
            "every rung tried is reported."
        )
    else:
        md.append("No remedies registered: problems are reported, the registered model is kept.")
    md += ["", "### Robustness (sensitivity) analyses", ""]
    sens = cfg.get("sensitivity")
    if sens and sens.get("enabled", True):
        md.append("```")
        md.append(json.dumps(sens, indent=1, sort_keys=True))
        md.append("```")
    else:
        md.append(NOT_STATED)
    md += ["", "## 6. Freeze record", ""]
    md += [
        f"- Plan SHA-256: `{record['plan_sha256']}`",
        f"- Frozen at: {record['frozen_at']}",
        f"- Python {record['python']}",
    ]
    md += [f"- {k} {v}" for k, v in sorted(record["packages"].items()) if v]
    md += ["", "The complete frozen plan (defaults filled in) is `prereg/plan.frozen.json`.", ""]
    return "\n".join(md)


def markdown_to_html(md: str, title: str) -> str:
    import mistune  # undeclared (comes with nbconvert): HTML only

    body = mistune.html(md)
    style = (
        "body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}"
        "table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2em .5em}"
    )
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{style}</style></head><body>\n{body}</body></html>\n"
    )


def markdown_to_docx(md_file: Path, docx_file: Path) -> str | None:
    """Convert with pandoc; returns None on success, else why the DOCX was not written."""
    try:
        import pypandoc  # optional (prereg extra); else system pandoc

        pypandoc.convert_file(str(md_file), "docx", outputfile=str(docx_file))
        return None
    except ImportError:
        pass
    except (OSError, RuntimeError) as exc:
        return f"pypandoc failed: {str(exc).splitlines()[0]}"
    pandoc = shutil.which("pandoc")
    if pandoc is None:
        return "no pandoc (install the 'prereg' extra: pypandoc-binary)"
    res = subprocess.run(
        [pandoc, str(md_file), "-o", str(docx_file)], capture_output=True, text=True
    )
    return None if res.returncode == 0 else f"pandoc failed: {res.stderr.strip()[:200]}"


def write_documents(plan: Plan, record: dict, out_dir: str | Path) -> dict:
    """Write preregistration.md/.html/.docx into ``out_dir``; returns the files written."""
    out_dir = Path(out_dir)
    md = preregistration_markdown(plan, record)
    md_file = out_dir / "preregistration.md"
    md_file.write_text(md, encoding="utf-8")
    html_file = out_dir / "preregistration.html"
    html_file.write_text(markdown_to_html(md, plan.project), encoding="utf-8")
    docx_file = out_dir / "preregistration.docx"
    why = markdown_to_docx(md_file, docx_file)
    return {
        "markdown": str(md_file.name),
        "html": str(html_file.name),
        "docx": None if why else str(docx_file.name),
        "docx_note": why,
    }
