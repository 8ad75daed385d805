"""The report's effect-size section as ``(kind, object)`` items (``("md", text)``,
``("table", DataFrame)``, ``("png", bytes)``) for linear and latent-scale (GLMM / ordinal) fits.

Linear models: ICC with its profile interval, design effect, Nakagawa and Snijders & Bosker R^2,
PRV, the Rights & Sterba decomposition and basic/pseudo standardized coefficients
(``mlmpipe.effects.summary``). Binary, count and ordinal models: the latent-scale ICC and Nakagawa
R^2, coefficients standardized by the latent SD, and one line per measure not computed with the
reason (``mlmpipe.effects.latent.SKIPPED``) instead of numbers that would be wrong.
"""

from __future__ import annotations

from mlmpipe.effects import summary as effect_tables
from mlmpipe.report import diagnostic_figures as dfig
from mlmpipe.report import figures

LABELS = {
    "snijders_bosker": "Snijders & Bosker R²",
    "prv": "proportional reduction in variance (PRV)",
    "rights_sterba": "Rights & Sterba decomposition",
    "pseudo_standardized": "pseudo-standardized coefficients",
}


def _skipped_lines(es: dict) -> str:
    skipped: dict = {}
    for e in es["models"].values():
        skipped |= e.get("skipped") or {}
    return "\n".join(f"- not computed: {LABELS.get(k, k)} ({why})" for k, why in skipped.items())


def effects_items(es: dict, final_model: str) -> list:
    """Items of the section for the effect-size artifact ``es`` and the final model's name."""
    latent = "scale" in es
    out: list = [
        ("md", f"### ICC, design effect and effective sample size ({es['null_model']})"),
        ("table", effect_tables.icc_summary_table(es)),
        ("md", "### Variance explained per model"),
    ]
    if latent:
        out.append(
            (
                "md",
                "On the latent scale: level-1 variance "
                f"{es['scale']['level1']:.4g} ({es['scale']['name']}); the ICC and the design "
                "effect refer to the latent response.",
            )
        )
    out.append(("table", effect_tables.r2_table(es)))
    if any(e.get("rights_sterba") for e in es["models"].values()):
        rs = effect_tables.rights_sterba_table(es)
        out += [
            ("md", "### Rights & Sterba decomposition"),
            ("png", figures.to_png(dfig.rights_sterba_bars(es))),
            ("table", rs.pivot_table(index=["model", "scope"], columns="source", values="share")),
        ]
    how = " (latent scale: beta * SD(x) / SD(y*))" if latent else ""
    out += [
        ("md", f"### Standardized coefficients ({final_model}){how}"),
        ("table", effect_tables.standardized_table(es, final_model)),
    ]
    lines = _skipped_lines(es)
    if lines:
        out.append(("md", lines))
    return out
