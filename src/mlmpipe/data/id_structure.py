"""How the ID columns of multilevel data relate: nested, crossed or neither, pair by pair.

For two classifications A and B (ID columns), A is *nested* in B when every A cluster occurs with
exactly one B cluster (classes in schools); they are *crossed* when clusters of each occur with
several clusters of the other (primary x secondary school; Goldstein 2011, *Multilevel Statistical
Models*, 4th ed., ch. 12; Rasbash & Browne 2008). A crossed pair is described by its observed
cells (distinct A x B combinations) and the share of the n_A x n_B possible cells that are empty:
near 0 is fully crossed, near 1 sparsely crossed. *Neither*: not nested either way, but at most
5% of the clusters on each side span more than one cluster of the other - nearly nested, the mark
of a few miscoded IDs rather than a design.

:func:`id_structure` describes every pair; :func:`declared_vs_data` compares it with the plan
(levels declared nested, classifications declared crossed) in one line per finding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import pandas as pd

#: At most this share of clusters spanning several of the other: nearly nested ("neither").
NEARLY_NESTED = 0.05


def plural(noun: str) -> str:
    """English plural of a level name: class -> classes, primary -> primaries, school -> schools."""
    if noun.endswith(("s", "x", "z", "sh", "ch")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in tuple("aeiou"):
        return noun[:-1] + "ies"
    return noun + "s"


def _sort_key(v):
    return (0, float(v), "") if isinstance(v, int | float) else (1, 0.0, str(v))


def spanning(df: pd.DataFrame, child: str, parent: str) -> list:
    """The ``child`` IDs that occur with 2+ ``parent`` IDs, in ID order."""
    counts = df[[child, parent]].dropna().groupby(child, observed=True)[parent].nunique()
    return sorted(counts.index[counts > 1].tolist(), key=_sort_key)


def pair_relation(df: pd.DataFrame, a: str, b: str) -> dict:
    """The relation of ID columns ``a`` and ``b``: ``relation`` is ``a in b`` / ``b in a`` (nested),
    ``same`` (one-to-one), ``crossed`` or ``neither``, with the cluster counts, the clusters of
    each spanning several of the other, and for crossed pairs the cells and share empty."""
    sub = df[[a, b]].dropna()
    na, nb = int(sub[a].nunique()), int(sub[b].nunique())
    a_multi, b_multi = spanning(sub, a, b), spanning(sub, b, a)
    cells = int(len(sub.drop_duplicates()))
    out = {
        "a": a, "b": b, "n_a": na, "n_b": nb, "a_in_several_b": len(a_multi),
        "b_in_several_a": len(b_multi), "cells": cells,
    }  # fmt: skip
    if not a_multi and not b_multi:
        out["relation"] = "same"
    elif not a_multi:
        out["relation"] = f"{a} in {b}"
    elif not b_multi:
        out["relation"] = f"{b} in {a}"
    elif len(a_multi) <= NEARLY_NESTED * na or len(b_multi) <= NEARLY_NESTED * nb:
        out["relation"] = "neither"
    else:
        out["relation"] = "crossed"
        out["share_empty"] = round(1.0 - cells / (na * nb), 4)
    return out


def describe_relation(r: Mapping) -> str:
    """One line for the checks report, e.g. ``primary x second: crossed, 148 primary and 19
    second clusters in 1,225 of 2,812 cells (56.4% empty)``."""
    a, b, rel = r["a"], r["b"], r["relation"]
    head = f"{a} x {b}: "
    if rel == "same":
        return head + f"the same clustering ({r['n_a']} clusters)"
    if rel == "crossed":
        return head + (
            f"crossed, {r['n_a']} {a} and {r['n_b']} {b} clusters in {r['cells']:,} of "
            f"{r['n_a'] * r['n_b']:,} cells ({100 * r['share_empty']:.1f}% empty)"
        )
    if rel == "neither":
        return head + (
            f"neither nested nor crossed: {r['a_in_several_b']} of {r['n_a']} {a} IDs occur with "
            f"2+ {b} and {r['b_in_several_a']} of {r['n_b']} {b} IDs with 2+ {a} (nearly "
            "nested: miscoded IDs?)"
        )
    inner, outer = (a, b) if rel == f"{a} in {b}" else (b, a)
    n_inner = r["n_a"] if inner == a else r["n_b"]
    n_outer = r["n_b"] if inner == a else r["n_a"]
    return head + f"nested, {n_inner} {inner} clusters within {n_outer} {outer} clusters"


def id_structure(df: pd.DataFrame, columns: Sequence[str]) -> list[dict]:
    """:func:`pair_relation` of every pair of the distinct ``columns`` present in ``df``."""
    cols = [c for c in dict.fromkeys(columns) if c in df.columns]
    return [pair_relation(df, a, b) for a, b in combinations(cols, 2)]


def _examples(ids: Sequence, k: int = 3) -> str:
    return ", ".join(str(v) for v in ids[:k])


def crossed_message(df: pd.DataFrame, child: Mapping, parent: Mapping) -> str | None:
    """The plan-vs-data line for a level declared nested in ``parent`` whose IDs are not, e.g.
    ``class IDs are crossed with schools: 14 classes appear in 2+ schools (e.g. 3, 7, 12);
    declare ids_local_to_parent: true or a crossed classification``; None when nested."""
    bad = spanning(df, child["id"], parent["id"])
    if not bad:
        return None
    c, p = child["name"], parent["name"]
    who = f"1 {c} appears" if len(bad) == 1 else f"{len(bad)} {plural(c)} appear"
    return (
        f"{c} IDs are crossed with {plural(p)}: {who} in 2+ {plural(p)} (e.g. {_examples(bad)}); "
        "declare ids_local_to_parent: true or a crossed classification"
    )


def classification_message(df: pd.DataFrame, cls: Mapping, crossed: Mapping) -> tuple[str, str]:
    """(status, line) for a classification declared crossed with level ``crossed``: ``ok`` when
    the data show the crossing, ``warn`` when its clusters are in fact nested either way."""
    r = pair_relation(df, cls["id"], crossed["id"])
    name, other = cls["name"], crossed["name"]
    if r["relation"] == "crossed":
        return "ok", f"{name} IDs are crossed with {plural(other)} as declared: " + (
            f"{r['cells']:,} {name} x {other} cells of {r['n_a'] * r['n_b']:,} "
            f"({100 * r['share_empty']:.1f}% empty)"
        )
    if r["relation"] == f"{cls['id']} in {crossed['id']}":
        return "warn", (
            f"{name} IDs are nested in {plural(other)}, not crossed: every {name} lies in one "
            f"{other}; declare {name} a level above {other} instead of a crossed classification"
        )
    if r["relation"] == f"{crossed['id']} in {cls['id']}":
        return "warn", (
            f"{other} IDs are nested in {plural(name)}, not crossed: declare {name} a level "
            f"above {other} instead of a crossed classification"
        )
    return "warn", f"{name} declared crossed with {plural(other)}, data: " + describe_relation(r)


def audit_ids(df: pd.DataFrame, spec: Mapping) -> tuple[list[dict], list[dict]]:
    """The ID-structure audit of the validate step: (every pair's relation, check entries for
    ``checks.json``: one ``id_structure`` line per pair, one ``classification`` line per declared
    crossing saying what the data show)."""
    levels = [lv for lv in spec["levels"] if lv["id"]]
    classes = list((spec.get("design") or {}).get("classifications", ()))
    pairs = id_structure(df, [lv["id"] for lv in levels] + [c["id"] for c in classes])
    checks = [
        {"name": "id_structure", "status": "ok", "message": describe_relation(r), "details": r}
        for r in pairs
    ]
    by_name = {x["name"]: x for x in levels + classes}
    for c in classes:
        status, line = classification_message(df, c, by_name[c["crosses"]])
        checks.append({"name": "classification", "status": status, "message": line, "details": {}})
    return pairs, checks


def audit_design(
    clean: pd.DataFrame, spec: Mapping, report: dict, notes: Sequence[dict] = ()
) -> None:
    """Add the audit to a checks ``report`` of a plan with classifications or membership:
    ``report["id_structure"]`` (every pair) and the check lines (``notes``: the membership's)."""
    if not spec.get("design"):
        return
    pairs, checks = audit_ids(clean, spec)
    report["id_structure"] = pairs
    report["checks"] = report["checks"] + checks + list(notes)
