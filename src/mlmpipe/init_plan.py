"""A starter plan filled in from a data file (``mlmpipe init --data FILE``): the levels, ID columns,
predictors and outcome :func:`mlmpipe.data.describe.describe` guesses, each guess with a comment
saying what it rests on, so the user confirms or edits every line before ``mlmpipe run``.

The model sequence is the usual build-up (Hox, Moerbeek & van de Schoot 2018, ch. 2; Snijders &
Bosker 2012, ch. 4-5): the null model (ICC), the level-1 predictors (continuous ones centred within
their cluster, with the cluster mean as a level-2 predictor), then the higher-level predictors.
"""

from __future__ import annotations

import json

from mlmpipe.data.describe import Column, Description


def _q(v) -> str:
    """A YAML flow scalar (JSON is valid YAML)."""
    return json.dumps(v, ensure_ascii=False)


def _why(c: Column) -> str:
    parts = [f"guess: {c.type}"]
    if c.labels:
        parts.append("value labels " + ", ".join(f"{k:g}={v}" for k, v in c.labels.items()))
    elif c.values:
        parts.append("values " + ", ".join(map(str, c.values)))
    else:
        parts.append(f"{c.n_distinct} distinct values")
    miss = f"{c.n_missing} missing"
    extra = [f"{c.n_blank} blank"] if c.n_blank else []
    extra += [f"code {v:g} x{n}" for v, n in c.missing_codes]
    extra += [f"declared missing in the file {v} x{n}" for v, n in c.file_missing.items()]
    parts.append(miss + (f" ({', '.join(extra)})" if extra else ""))
    return "; ".join(parts)


def _predictor(c: Column, lowest: bool) -> tuple[str, list[str]]:
    """The plan line of a predictor and the model terms it adds."""
    if c.type == "continuous":
        centering = "group" if lowest else "grand"
        terms = [f"c{c.name}", f"mean{c.name}"] if lowest else [f"c{c.name}"]
        return f"{{type: continuous, centering: {centering}}}", terms
    levels = c.values
    if c.labels:  # the data hold codes; the plan names the categories by their labels, code order
        levels = [
            str(c.labels.get(v, f"{v:g}" if isinstance(v, float) else v)) for v in sorted(levels)
        ]
    if c.type == "binary":
        return f"{{type: binary, levels: {_q(levels)}}}", [c.name]
    levels_text = f", levels: {_q(levels)}" if levels else ""
    return f"{{type: categorical{levels_text}}}", [c.name]


def plan_from_description(d: Description, project: str = "my-analysis") -> str:
    """The commented YAML plan of a described data file."""
    out = [
        f"# mlmpipe analysis plan written by 'mlmpipe init --data {d.file}' from the data "
        f"({d.n_rows} rows, {len(d.columns)} columns).",
        "# Every value below is a GUESS from the data: check each commented line, edit it, then",
        "# run 'mlmpipe run'. 'mlmpipe init --data FILE --describe' prints the same as a table.",
        f"project: {project}                  # EDIT",
        "seed: 20240101",
        "alpha: 0.05",
        "",
        "data:",
        "  source: file",
        f"  file: {d.file}",
        "  format: auto",
    ]
    coded = {c.name: sorted(v for v, _ in c.missing_codes) for c in d.columns if c.missing_codes}
    if coded:
        per = ", ".join(f"{k}: {_q(v)}" for k, v in coded.items())
        out.append(
            f"  missing_codes: {{{per}}}   # guess: values far outside the rest, read as "
            "missing; CONFIRM (delete an entry if it is a real value)"
        )
    out.append("")
    out.append("# columns: type guess and missing count (blank strings and suspected codes count)")
    for c in d.columns:
        where = ""
        if c.level == d.levels[0][0]:
            where = "; varies within the lowest clusters" if len(d.levels) > 1 else ""
        elif c.level:
            where = f"; constant within {c.level}"
        elif c.type == "id":
            where = "; ID column (see levels)"
        out.append(f"#   {c.name}: {_why(c)}{where}")
    out.append("")
    cands = ", ".join(d.outcome_candidates) or "none found"
    if d.outcome is not None:
        oc = d.column(d.outcome)
        out += [
            "outcome:",
            f"  name: {d.outcome}    # guess: continuous and varies at level 1 (candidates: {cands})",
            f"  range: null          # or [min, max] plausible values (observed {_range(oc)})",
        ]
    else:
        out += [
            "# outcome: ambiguous -- uncomment and name one (candidates varying at level 1: "
            f"{cands})",
            "# outcome:",
            f"#   name: {d.outcome_candidates[0] if d.outcome_candidates else 'y'}",
            "#   range: null",
        ]
    out += ["", "# levels, lowest first. ID candidates: " + (", ".join(d.ids) or "none")]
    for r in d.relations:
        out.append(f"#   {r}")
    out.append("levels:")
    terms_by_level: list[list[str]] = []
    for i, (name, id_col) in enumerate(d.levels):
        out.append(f"  - name: {name}" + ("    # guess" if i else "    # the rows"))
        if i == 0:
            out.append(
                f"    id: {id_col}" + ("    # guess: unique per row" if id_col else "")
                if id_col
                else "    id: null"
            )
        else:
            below = d.levels[i - 1][0]
            out.append(
                f"    id: {id_col}    # guess: {d.column(id_col).n_distinct} clusters; "
                f"{below} nests in {name}"
            )
            out.append("    ids_local_to_parent: false    # true if IDs restart within each parent")
        preds = [
            c
            for c in d.columns
            if c.level == name
            and c.name != d.outcome
            and c.type in ("continuous", "binary", "categorical")
        ]
        terms: list[str] = []
        if not preds:
            out.append("    predictors: {}")
        else:
            out.append("    predictors:    # guess: constant within this level's clusters")
            for c in preds:
                line, t = _predictor(c, i == 0)
                terms += t
                out.append(f"      {c.name}: {line}    # {_why(c)}")
        terms_by_level.append(terms)
    top = d.levels[-1][0] if len(d.levels) > 1 else None
    out += [
        "",
        "models:    # the usual build-up; edit freely",
        "  - name: m0_null",
        "    label: Null model (ICC)",
    ]
    if top is None:
        out.append("# no cluster ID found: name one in levels[1].id before running")
    step = 1
    for i, terms in enumerate(terms_by_level):
        if terms:
            where = "level-1" if i == 0 else f"{d.levels[i][0]}-level"
            out += [f"  - name: m{step}_{d.levels[i][0]}", f"    label: + {where} predictors"]
            out.append(f"    add_fixed: {_q(terms)}")
            step += 1
    n_missing = sum(c.n_missing for c in d.columns)
    out += [
        "",
        "estimation:",
        "  backend: mlmpipe",
        "  estimators: [reml, ml]",
        "",
    ]
    if n_missing:
        out += [
            f"# {n_missing} missing values: listwise deletion by default; consider",
            "# missing: {method: multiple_imputation, m: 20}",
            "",
        ]
    out += [
        "hypotheses: []    # e.g. {name: H1, text: ..., model: m1_..., parameter: ..., direction: positive}",
        "",
        "convergence:",
        "  rungs: [rescale, restart, optimizer, uncorrelated, drop_smallest_variance]",
        "",
        "deviations: {}",
        "",
        "report:",
        "  engine: auto",
    ]
    return "\n".join(out) + "\n"


def _range(c: Column) -> str:
    return f"{c.min:g} to {c.max:g}" if c.min is not None else f"{c.n_distinct} distinct values"
