"""What a data file holds, as guesses for a starter plan (``mlmpipe init --data``): each column's
type and missing count, the candidate ID columns and how they nest or cross, the levels they imply
(lowest first), the level at which each predictor is constant, and an outcome candidate.

Every result is a guess the user confirms; the rules:

* missing: NaN, blank strings (``""`` or spaces) and suspected missing-value codes -- a usual
  sentinel (``-9``, ``-99``, ``-999``, ``99``, ``999``, ...) lying outside the range of the other
  values by more than half that range;
* type: two distinct values -> binary; value labels (SPSS/Stata) or a string column with few
  distinct values -> categorical; a numeric column -> continuous;
* a cluster ID: an integer or string column without value labels whose values repeat
  (2 < distinct < rows/2) and whose name says so (id, school, class, group, ...); failing names,
  each such column with at least 5 clusters, the first of columns that partition the rows alike
  (a school-level variable unique per school is no second ID); an ID unique per row is level 1's;
* ``A`` nests in ``B`` when each value of ``A`` occurs with one value of ``B`` (Snijders & Bosker
  2012, sec. 2.2); when the pairs ``(B, A)`` are unique but ``A`` repeats across ``B`` the IDs of
  ``A`` restart within ``B`` (``ids_local_to_parent``) or the two are crossed -- the user decides;
* a predictor belongs to the highest level whose clusters it is constant within;
* the outcome: the continuous level-1 column whose name suggests an outcome (score, achievement,
  outcome, y, ...), or the only continuous level-1 column; otherwise ambiguous.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mlmpipe.data.readers import detect_format, read_table

_ID_NAME = re.compile(
    r"(^|_)(id|ids|code|no|nr|num)($|_)|id$|^(school|class|classroom|group|cluster|subject|"
    r"person|pupil|student|teacher|district|lea|region|country|hospital|clinic|site|wave|"
    r"family|household|firm|village|centre|center)s?(_?id)?$",
    re.IGNORECASE,
)
_OUTCOME_NAME = re.compile(
    r"score|achiev|outcome|result|grade|mark|test|math|read|perf|^y$|^dv$|response|reaction",
    re.IGNORECASE,
)
_NEG_CODES = (-9, -99, -999, -9999, -8, -88, -98, -97, -1)
_HIGH_CODES = (99, 999, 9999, 98, 998)


@dataclass
class Column:
    """One column: its guessed type, missing count and the codes guessed as missing."""

    name: str
    dtype: str  # "numeric" or "string"
    type: str  # continuous | binary | categorical | id | text
    n_missing: int
    n_distinct: int
    values: list = field(default_factory=list)  # the distinct values when few (<= 10)
    missing_codes: list = field(default_factory=list)  # suspected codes, with their counts
    n_blank: int = 0
    labels: dict | None = None  # value labels of SPSS/Stata files
    file_missing: dict = field(default_factory=dict)  # SPSS user-missing / Stata .a-.z counts
    level: str | None = None  # the level it is constant at
    min: float | None = None  # numeric columns, without the missing codes
    max: float | None = None


@dataclass
class Description:
    """A data file's columns, ID candidates, their relations, levels and outcome candidate."""

    file: str
    n_rows: int
    columns: list[Column]
    ids: list[str]  # cluster ID candidates, most clusters first
    row_id: str | None  # a column unique per row (level-1 IDs)
    relations: list[str]  # "class nests in school", ...
    levels: list[tuple[str, str | None]]  # (name, id column) lowest first
    outcome: str | None
    outcome_candidates: list[str]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _clean(s: pd.Series) -> tuple[pd.Series, int, list]:
    """The column with blanks and suspected missing codes set to NaN; blanks; codes [(v, n)]."""
    n_blank = 0
    if s.dtype == object or pd.api.types.is_string_dtype(s):
        blank = s.astype("string").str.strip().eq("").fillna(False)
        n_blank = int(blank.sum())
        s = s.mask(blank)
        num = pd.to_numeric(s, errors="coerce")
        if num.notna().sum() == s.notna().sum() and s.notna().any():
            s = num  # numbers stored as strings
        else:
            return s, n_blank, []
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return s, n_blank, []
    codes = []
    v = s.dropna()
    for code in (*_NEG_CODES, *_HIGH_CODES):
        rest = v[~v.isin([*codes, code])]
        if not (v == code).any() or rest.nunique() < 3:
            continue
        span = rest.max() - rest.min()
        gap = rest.min() - code if code < 0 else code - rest.max()
        if gap > max(span / 2, 1e-12):  # far outside the other values: a sentinel
            codes.append(code)
    found = [(c, int((v == c).sum())) for c in codes]
    return (s.mask(s.isin(codes)) if codes else s), n_blank, found


def _code(v: object) -> str:
    """A value code as written in the file: 1, not 1.0."""
    return f"{v:g}" if isinstance(v, float) else str(v)


def _guess_type(s: pd.Series, labels: dict | None) -> str:
    k = s.nunique(dropna=True)
    if k == 2:
        return "binary"
    if labels and k <= max(len(labels), 2) and set(s.dropna().unique()) <= set(labels):
        return "categorical"
    if pd.api.types.is_numeric_dtype(s):
        return "continuous"
    return "categorical" if k <= max(10, 0.05 * s.notna().sum()) else "text"


def _constant_within(df: pd.DataFrame, col: str, id_col: str) -> bool:
    return bool(df.groupby(id_col, observed=True)[col].nunique(dropna=True).max() <= 1)


def describe(path: str | Path, fmt: str = "auto", sheet: str | None = None) -> Description:
    """Guess the structure of the data file at ``path`` (see the module docstring); SPSS/Stata
    user-missing values are already missing (the reader sets them), and their value labels are
    read from the reader's ``attrs``."""
    path = Path(path)
    fmt = detect_format(path, fmt)
    raw = read_table(path, fmt, sheet=sheet)
    labels = raw.attrs.get("value_labels") or {}
    n = len(raw)
    df = pd.DataFrame(index=raw.index)
    cols: list[Column] = []
    for name in raw.columns:
        s, n_blank, codes = _clean(raw[name])
        df[name] = s
        lab = labels.get(name)
        k = int(s.nunique(dropna=True))
        vals = sorted(s.dropna().unique().tolist(), key=str) if k <= 10 else []
        col = Column(
            name=str(name),
            dtype="numeric" if pd.api.types.is_numeric_dtype(s) else "string",
            type=_guess_type(s, lab),
            n_missing=int(s.isna().sum()),
            n_distinct=k,
            values=vals,
            missing_codes=codes,
            n_blank=n_blank,
            labels=lab,
            file_missing=dict((raw.attrs.get("file_missing") or {}).get(name, {})),
        )
        if col.dtype == "numeric" and s.notna().any():
            col.min, col.max = float(s.min()), float(s.max())
        cols.append(col)

    def integral(c: Column) -> bool:
        s = df[c.name].dropna()
        return c.dtype == "string" or bool(np.all(np.mod(s, 1) == 0))

    repeating = [
        c
        for c in cols
        if integral(c) and 2 < c.n_distinct <= n / 2 and c.n_missing == 0 and not c.labels
    ]
    ids = [c.name for c in repeating if _ID_NAME.search(c.name)]
    if not ids:  # no name says ID: repeating columns with >= 5 clusters, one per partition
        for a in (c.name for c in repeating if c.n_distinct >= 5):
            if not any(_constant_within(df, a, b) and _constant_within(df, b, a) for b in ids):
                ids.append(a)  # the first column of each partition (IDs usually come first)
    ids.sort(key=lambda c: -df[c].nunique())
    row_ids = [c.name for c in cols if c.n_distinct == n and c.n_missing == 0 and integral(c)]
    row_id = next((c for c in row_ids if _ID_NAME.search(c)), None)

    relations, chain = [], []
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            if _constant_within(df, b, a):
                relations.append(f"{a} nests in {b}")
            elif not _constant_within(df, a, b):
                pairs = df.groupby([b, a]).ngroups
                relations.append(
                    f"{a} and {b} are not nested as coded ({df[a].nunique()} {a} values, {pairs} "
                    f"{b}-{a} pairs): either {a} numbers restart within {b} "
                    f"(ids_local_to_parent: true) or {a} and {b} are crossed"
                )
    # the levels: the IDs from the most clusters to the fewest while each nests in the next
    for a in ids:
        if not chain or _constant_within(df, a, chain[-1]):
            chain.append(a)
    levels: list[tuple[str, str | None]] = [(_level_name(row_id or "obs", row_id), row_id)]
    levels += [(_level_name(c, c), c) for c in chain]

    # predictors: the highest level they are constant within
    id_set = set(ids) | set(row_ids)
    for c in cols:
        if c.name in id_set:
            c.type = "id"
    for c in cols:
        if c.name in id_set or c.type == "text":
            continue
        c.level = levels[0][0]
        for lname, lid in levels[1:]:
            if _constant_within(df, c.name, lid):
                c.level = lname
    cands = [
        c.name
        for c in cols
        if c.type == "continuous" and c.level == levels[0][0] and c.name not in id_set
    ]
    named = [c for c in cands if _OUTCOME_NAME.search(c)]
    outcome = named[0] if len(named) == 1 else (cands[0] if len(cands) == 1 else None)
    return Description(
        file=path.name,
        n_rows=n,
        columns=cols,
        ids=ids,
        row_id=row_id,
        relations=relations,
        levels=levels,
        outcome=outcome,
        outcome_candidates=cands,
    )


def _level_name(col: str, id_col: str | None) -> str:
    """A plan-valid level name from an ID column name (``school_id`` -> ``school``)."""
    if id_col is None:
        return "obs"
    name = re.sub(r"(_?id|_?code|_?no|_?nr)$", "", col, flags=re.IGNORECASE) or col
    name = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return name if re.match(r"^[A-Za-z]", name) else f"l_{name}"


def describe_table(d: Description) -> str:
    """The description as a plain-text table (``mlmpipe init --data FILE --describe``)."""
    rows = []
    for c in d.columns:
        role = (
            "outcome?"
            if c.name == d.outcome
            else "ID" + (" (rows)" if c.name == d.row_id else "")
            if c.name in d.ids or c.name == d.row_id
            else "predictor"
            if c.level
            else ""
        )
        miss = str(c.n_missing)
        notes = []
        if c.n_blank:
            notes.append(f"{c.n_blank} blank")
        notes += [f"code {v:g}: {k}" for v, k in c.missing_codes]
        notes += [f"declared {v}: {k}" for v, k in c.file_missing.items()]
        if notes:
            miss += " (" + ", ".join(notes) + ")"
        vals = ", ".join(map(str, c.values)) if c.values else ""
        if c.labels:  # SPSS/Stata value labels: the code and what it means
            vals = ", ".join(f"{_code(v)}={lab}" for v, lab in c.labels.items())
        rows.append((c.name, c.type, miss, str(c.n_distinct), c.level or "", role, vals))
    head = ("column", "type", "missing", "distinct", "level", "role", "values")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    fmt = "  ".join(f"{{:{w}}}" for w in widths)
    lines = [f"{d.file}: {d.n_rows} rows, {len(d.columns)} columns", ""]
    lines += [fmt.format(*head).rstrip(), fmt.format(*("-" * w for w in widths)).rstrip()]
    lines += [fmt.format(*r).rstrip() for r in rows]
    lines.append("")
    lines.append(
        "levels (lowest first): "
        + " < ".join(f"{n}" + (f" [{i}]" if i else "") for n, i in d.levels)
    )
    for r in d.relations:
        lines.append(f"  {r}")
    if d.outcome is None:
        lines.append("outcome: ambiguous, one of: " + (", ".join(d.outcome_candidates) or "(none)"))
    else:
        lines.append(f"outcome: {d.outcome} (guess)")
    return "\n".join(lines)
