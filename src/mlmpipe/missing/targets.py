"""Artifacts of the missing-data rules that ``rule all`` asks for, by plan."""

from __future__ import annotations


def missing_targets(plan) -> list[str]:
    """Pattern figure always; trace figure under imputation; the delta analysis when planned."""
    out = ["reports/figures/missing_patterns.png"]
    if plan.missing["method"] == "multiple_imputation":
        out.append("reports/figures/imputation_trace.png")
        if plan.missing["delta"]["grid"]:
            out += ["reports/missing_delta.json", "reports/figures/tipping_point.png"]
    return out
