"""Test helpers: fit records from the dict layout that tests write by hand, and back."""

from __future__ import annotations

from typing import Any

from mlmpipe.record import FitRecord


def record(d: dict[str, Any], formula: str = "y ~ 1") -> FitRecord:
    """A FitRecord from a (partial) fit document; ``formula`` when the document has none."""
    return FitRecord.from_dict({"formula": formula, **d})


def document(rec: FitRecord) -> dict[str, Any]:
    """The record as one nested document: its JSON summary with the arrays put back in place
    (``theta`` and the conditional modes as lists), the layout fit dicts had."""
    d = rec.to_dict()
    d.pop("schema")
    if rec.theta is not None:
        d["theta"] = rec.theta.tolist()
    for g, b in rec.ranef.items():
        d["ranef"][g]["values"] = b.values.tolist()
        if b.condsd is not None:
            d["ranef"][g]["condsd"] = b.condsd.tolist()
    return d
