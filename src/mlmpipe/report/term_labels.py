"""Fixed-effect terms as readers know them: treatment-coded dummies as ``variable: category``
(value labels included), interactions joined by a times sign. Shared by the APA tables and the
executive summary, so the report rule does not depend on the whole table module."""

from __future__ import annotations


def factor_term_labels(desc: dict) -> dict[str, str]:
    """Treatment-coded dummy names as readers know them: ``sexm`` -> ``sex: m``, ``trackgeneral``
    -> ``track: general`` (the category labels, value labels of SPSS/Stata files included)."""
    out = {}
    for v in desc.get("variables", []):
        for cat in v.get("categories", {}):
            out[f"{v['variable']}{cat}"] = f"{v['variable']}: {cat}"
    return out


def term_label(term: str, labels: dict[str, str]) -> str:
    """A fixed-effect term for a table: dummies labelled, interactions joined by a times sign."""
    return " \u00d7 ".join(labels.get(part, part) for part in term.split(":"))
