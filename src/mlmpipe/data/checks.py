"""Named structure checks of multilevel data, each a small function.

Structural problems that make the analysis meaningless always stop with a one-line
:class:`DataValidationError` naming the column (and plan key) and a few offending IDs/rows:
a plan column absent from the data, missing IDs, a cluster nested in two parents, a non-numeric
outcome, a level with a single cluster, a level-2 variable that varies within its cluster, wrong
predictor types. Softer checks (duplicate rows, constant predictors, out-of-range values, small
clusters) have an action level ``ignore | warn | error`` from the plan's ``checks`` section, in the
spirit of lme4's ``check.*`` options. Every check is recorded in the report (``checks.json``).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from mlmpipe.data.id_structure import crossed_message
from mlmpipe.data.labels import apply_file_metadata
from mlmpipe.data.ordinal import ordinal_outcome_problem
from mlmpipe.data.survey_checks import survey_columns
from mlmpipe.errors import DataCheckWarning, DataValidationError

ACTIONS = ("ignore", "warn", "error")


@dataclass
class CheckResult:
    name: str
    status: str  # ok | warn | error | ignored
    message: str = ""
    details: dict = field(default_factory=dict)


def _code_text(code: object) -> str:
    """A missing-value code as the user wrote it: -99 (not '-99.0'), a blank as ''."""
    text = str(code).strip()
    try:
        x = float(text)
    except ValueError:
        return repr(text)
    return str(int(x)) if x.is_integer() else text


def _few(values, k: int = 5) -> str:
    vals = list(values)
    shown = ", ".join(str(v) for v in vals[:k])
    return shown + (f", … ({len(vals)} in all)" if len(vals) > k else "")


def _rows(mask) -> str:
    """Offending rows as 1-based data row numbers."""
    return "rows " + _few(np.flatnonzero(np.asarray(mask)) + 1)


class _Recorder:
    def __init__(self, actions: dict):
        self.actions = actions
        self.results: list[CheckResult] = []

    def ok(self, name: str, message: str = "", **details) -> None:
        self.results.append(CheckResult(name, "ok", message, details))

    def fail(self, name: str, message: str, **details) -> None:
        """A structural failure: always an error."""
        self.results.append(CheckResult(name, "error", message, details))
        raise DataValidationError(message)

    def soft(self, name: str, action_key: str, message: str, **details) -> None:
        action = self.actions.get(action_key, "warn")
        if action == "error":
            self.fail(name, f"{message} (checks.{action_key}: error)", **details)
        elif action == "warn":
            self.results.append(CheckResult(name, "warn", message, details))
            warnings.warn(message, DataCheckWarning, stacklevel=3)
        else:
            self.results.append(CheckResult(name, "ignored", message, details))


# --------------------------------------------------------------------------- individual checks


def check_columns_present(df: pd.DataFrame, spec: dict, rec: _Recorder) -> None:
    dup = df.columns[df.columns.duplicated()]
    if len(dup):
        rec.fail(
            "columns_present",
            f"data.file: column name {str(dup[0])!r} occurs more than once; rename one of them",
        )
    needed = {"outcome.name": spec["outcome"]["name"]}
    for i, lv in enumerate(spec["levels"]):
        if lv["id"]:
            needed[f"levels[{i}].id"] = lv["id"]
        for p in lv["predictors"]:
            needed[f"levels[{i}].predictors.{p}"] = p
    for col in spec.get("extra_columns", ()):  # estimation.weights / residual structures
        needed.setdefault(f"estimation (weights / residual): {col!r}", col)
    for key, col in needed.items():
        if col not in df.columns:
            rec.fail(
                "columns_present",
                f"{key}: column {col!r} is not in the data; columns are {_few(df.columns, 12)}",
            )
    rec.ok("columns_present", f"all {len(needed)} plan columns found")


def check_has_rows(df: pd.DataFrame, spec: dict, rec: _Recorder) -> None:
    """A file with a header and no data rows (every other check would mislead)."""
    if len(df) == 0:
        rec.fail(
            "has_rows",
            f"data.file: the data file has no rows (only a header: {_few(df.columns, 8)})",
        )
    rec.ok("has_rows", f"{len(df)} rows")


def _code_mask(col: pd.Series, codes: tuple) -> pd.Series:
    """Rows of ``col`` holding one of ``codes`` (numbers match numbers, text matches the value's
    text, so ``-99`` also matches the string ``"-99"`` and ``""`` a blank answer)."""
    nums = [c for c in codes if isinstance(c, int | float) and not isinstance(c, bool)]
    texts = {str(c).strip() for c in codes}
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        return col.isin(nums) & col.notna()
    as_text = col.astype(object).map(lambda v: str(v).strip() if pd.notna(v) else None)
    return as_text.isin(texts) & col.notna()


def apply_missing_codes(df: pd.DataFrame, spec: dict, rec: _Recorder) -> pd.DataFrame:
    """``data.missing_codes``: the declared codes become missing (the raw file is not touched;
    this is the analysed copy). Each recoding is recorded."""
    codes = spec.get("missing_codes") or {}
    recoded: dict[str, dict[str, int]] = {}
    for name, cs in codes.items():
        col = df[name]
        mask = _code_mask(col, tuple(cs))
        if not mask.any():
            continue
        counts = col[mask].astype(object).map(lambda v: str(v).strip()).value_counts()
        recoded[name] = {k: int(v) for k, v in counts.items()}
        if isinstance(col.dtype, pd.CategoricalDtype):
            keep = [c for c in col.cat.categories if str(c).strip() not in recoded[name]]
            df[name] = col.where(~mask).cat.set_categories(keep)
        else:
            df[name] = col.where(~mask)
            if df[name].dtype == object:  # e.g. "-99" among numbers: numeric once recoded
                conv = pd.to_numeric(df[name], errors="coerce")
                if (conv.notna() == df[name].notna()).all():
                    df[name] = conv
    if recoded:
        parts = [
            f"{name}: " + ", ".join(f"{n} x {_code_text(code)}" for code, n in vals.items())
            for name, vals in recoded.items()
        ]
        rec.ok(
            "missing_codes",
            "data.missing_codes set to missing: " + "; ".join(parts),
            recoded=recoded,
        )
    elif codes:
        rec.ok("missing_codes", "data.missing_codes: no declared code occurs in the data")
    return df


def blank_strings_missing(df: pd.DataFrame, rec: _Recorder) -> pd.DataFrame:
    """Blank answers (empty or whitespace-only strings in a text or categorical column, as SPSS
    and Stata write an unanswered string item) are missing in the analysed copy; each column's
    count is recorded. A blank that means something is declared as a category by recoding it in the
    raw data's source, not here."""
    recoded: dict[str, int] = {}
    for name in df.columns:
        col = df[name]
        is_cat = isinstance(col.dtype, pd.CategoricalDtype)
        if not (is_cat or col.dtype == object or pd.api.types.is_string_dtype(col)):
            continue
        mask = col.astype(object).map(lambda v: isinstance(v, str) and not v.strip())
        mask = mask.astype(bool)
        if not mask.any():
            continue
        recoded[name] = int(mask.sum())
        if is_cat:
            keep = [c for c in col.cat.categories if not (isinstance(c, str) and not c.strip())]
            df[name] = col.where(~mask).cat.set_categories(keep)
        else:
            df[name] = col.where(~mask)
    if recoded:
        rec.ok(
            "blank_strings",
            "blank answers set to missing: "
            + "; ".join(f"{k}: {n} blank" for k, n in recoded.items()),
            recoded=recoded,
        )
    return df


def _looks_like_code(v: float) -> bool:
    """-9, -99, -999, 99, 999, 9999, -8, -88, 98, 998 ...: the usual missing-value codes (the
    digits 9 or 8 repeated, or 9s ending in 8)."""
    if not float(v).is_integer():
        return False
    digits = str(abs(int(v)))
    return len(digits) >= (1 if v < 0 else 2) and (
        set(digits) == {"9"}
        or set(digits) == {"8"}
        or (set(digits[:-1]) <= {"9"} and digits[-1] == "8")
    )


def suspected_codes(col: pd.Series, k: float = 3.0) -> list[float]:
    """Values of a numeric column that look like missing-value codes and lie far outside the
    other values: beyond ``k`` interquartile ranges (at least ``k`` SDs when the IQR is 0) from
    the other values' range. Empty for a column with fewer than 5 other values."""
    x = pd.to_numeric(col, errors="coerce").dropna()
    cand = sorted({float(v) for v in x.unique() if _looks_like_code(float(v))})
    if not cand:
        return []
    rest = x[~x.isin(cand)]
    if len(rest) < 5:
        return []
    q1, q3 = np.percentile(rest, [25, 75])
    spread = max(q3 - q1, float(rest.std()), 1e-12)
    lo, hi = float(rest.min()) - k * spread, float(rest.max()) + k * spread
    return [c for c in cand if c < lo or c > hi]


def check_suspected_codes(df: pd.DataFrame, spec: dict, rec: _Recorder) -> None:
    """The missing-code heuristic on the outcome and the continuous predictors (checks key
    ``missing_codes``): the user declares the codes in ``data.missing_codes``."""
    cols = [("outcome.name", spec["outcome"]["name"])]
    for i, lv in enumerate(spec["levels"]):
        for name, p in lv["predictors"].items():
            if p["type"] == "continuous":
                cols.append((f"levels[{i}].predictors.{name}", name))
    found = False
    for key, name in cols:
        col = df[name]
        if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            continue
        codes = suspected_codes(col)
        if not codes:
            continue
        found = True
        shown = ", ".join(f"{c:g}" for c in codes)
        n = int(col.isin(codes).sum())
        rec.soft(
            "missing_codes",
            "missing_codes",
            f"{key}: {name!r} holds {n} value(s) {shown} far outside its other values: a "
            f"missing-value code? declare it in data.missing_codes (e.g. missing_codes: "
            f"{{{name}: [{shown}]}})",
            column=name,
            codes=codes,
        )
    if not found:
        rec.ok("suspected_codes", "no value looks like an undeclared missing-value code")


def check_all_missing(df: pd.DataFrame, spec: dict, rec: _Recorder) -> None:
    """The outcome or a predictor that is missing in every row."""
    cols = [("outcome.name", spec["outcome"]["name"])]
    for i, lv in enumerate(spec["levels"]):
        cols += [(f"levels[{i}].predictors.{name}", name) for name in lv["predictors"]]
    for key, name in cols:
        if df[name].isna().all():
            rec.fail("all_missing", f"{key}: {name!r} is missing in all {len(df)} rows")
    rec.ok("all_missing", "no plan variable is missing in every row")


def check_levels_vs_rows(df: pd.DataFrame, spec: dict, rec: _Recorder) -> None:
    """Every clustering level needs fewer clusters than observations (lme4's
    ``check.nobs.vs.nlev``): with one row per cluster its variance cannot be told from the
    residual variance."""
    n = int(df[spec["outcome"]["name"]].notna().sum())
    for i, lv in enumerate(spec["levels"][1:], start=1):
        k = int(df.loc[df[spec["outcome"]["name"]].notna(), lv["id"]].nunique())
        if k >= n:
            rec.fail(
                "levels_vs_rows",
                f"levels[{i}].id: level {lv['name']!r} has {k} clusters of {lv['id']!r} for {n} "
                "observed outcome rows; a random effect needs fewer levels than observations "
                "(is the ID column right?)",
            )
    rec.ok("levels_vs_rows", "every level has fewer clusters than observations")


def check_ids(df: pd.DataFrame, spec: dict, rec: _Recorder) -> None:
    for i, lv in enumerate(spec["levels"]):
        if not lv["id"]:
            continue
        miss = df[lv["id"]].isna()
        if miss.any():
            rec.fail(
                "ids_present",
                f"levels[{i}].id: ID column {lv['id']!r} has {int(miss.sum())} missing value(s), "
                f"{_rows(miss)}",
            )
    rec.ok("ids_present", "no missing IDs")


def build_composite_ids(df: pd.DataFrame, spec: dict, rec: _Recorder) -> pd.DataFrame:
    """IDs local to their parent (class 1 in every school) become ``parent:child`` IDs."""
    levels = spec["levels"]
    for i in range(len(levels) - 2, -1, -1):  # top-down so parents are already composite
        lv = levels[i]
        if lv["ids_local_to_parent"] and lv["id"]:
            parent = levels[i + 1]["id"]
            df[lv["id"]] = df[parent].astype(str) + ":" + df[lv["id"]].astype(str)
            rec.ok("composite_ids", f"{lv['id']!r} made unique within {parent!r}")
    return df


def check_nesting(df: pd.DataFrame, spec: dict, rec: _Recorder) -> None:
    levels = spec["levels"]
    for i in range(len(levels) - 1):
        if not levels[i]["id"]:
            continue
        message = crossed_message(df, levels[i], levels[i + 1])  # mlmpipe.data.id_structure
        if message:
            rec.fail("nesting", f"levels[{i}].id: {message}")
    rec.ok("nesting", "every cluster lies in exactly one parent cluster")


def check_cluster_counts(df: pd.DataFrame, spec: dict, rec: _Recorder) -> None:
    for i, lv in enumerate(spec["levels"][1:], start=1):
        n = df[lv["id"]].nunique()
        if n < 2:
            rec.fail(
                "cluster_count",
                f"levels[{i}].id: level {lv['name']!r} has only {n} cluster(s) in column "
                f"{lv['id']!r} (value {_few(df[lv['id']].unique())}); a multilevel model needs "
                "several clusters per level",
            )
    rec.ok("cluster_count", "every clustering level has at least two clusters")


def check_outcome(df: pd.DataFrame, spec: dict, rec: _Recorder) -> pd.DataFrame:
    name = spec["outcome"]["name"]
    col = df[name]
    if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        conv = pd.to_numeric(col, errors="coerce")
        bad = conv.isna() & col.notna()
        rec.fail(
            "outcome_numeric",
            f"outcome.name: outcome {name!r} is not numeric ({int(bad.sum())} non-numeric value(s), "
            f"e.g. {_few(col[bad].astype(str).unique(), 3)}; {_rows(bad)})",
        )
    rec.ok("outcome_numeric", f"outcome {name!r} is numeric")
    observed = col.dropna().unique()
    if len(observed) < 2 and spec.get("family") != "ordinal":  # ordinal: its own check below
        rec.fail(
            "outcome_constant",
            f"outcome.name: outcome {name!r} is constant (value {_few(observed, 1)} in all "
            f"{int(col.notna().sum())} observed rows); there is no variance to model",
        )
    if spec.get("family") == "ordinal":
        problem = ordinal_outcome_problem(col, name)
        if problem:
            rec.fail("outcome_ordinal", problem)
        cats = sorted(pd.unique(col.dropna()).tolist())
        rec.ok("outcome_ordinal", f"ordinal outcome {name!r}: categories in order {cats}")
    return df


def coerce_predictors(df: pd.DataFrame, spec: dict, rec: _Recorder) -> pd.DataFrame:
    """Continuous predictors must be numeric; binary/categorical become ordered-as-planned factors."""
    for i, lv in enumerate(spec["levels"]):
        for name, p in lv["predictors"].items():
            key = f"levels[{i}].predictors.{name}"
            col = df[name]
            if p["type"] == "continuous":
                if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
                    bad = pd.to_numeric(col, errors="coerce").isna() & col.notna()
                    rec.fail(
                        "predictor_types",
                        f"{key}.type: {name!r} is declared continuous but has non-numeric values "
                        f"(e.g. {_few(col[bad].astype(str).unique(), 3)}; {_rows(bad)})",
                    )
                continue
            observed = pd.unique(col.dropna())
            if p["type"] == "binary" and len(observed) > 2:
                rec.fail(
                    "predictor_types",
                    f"{key}.type: {name!r} is declared binary but has {len(observed)} distinct "
                    f"values ({_few(sorted(map(str, observed)))})",
                )
            if p["levels"] is not None:
                levels = list(p["levels"])
                if isinstance(col.dtype, pd.CategoricalDtype):
                    col = col.astype(object)
                # match plan levels to data values also when the file stored them as numbers
                lookup = {str(v): v for v in levels}
                unknown = sorted({str(v) for v in observed} - set(lookup))
                if unknown:
                    rec.fail(
                        "predictor_levels",
                        f"{key}.levels: value(s) {_few(unknown)} of {name!r} are not among the "
                        f"planned levels {levels}",
                    )
                values = [lookup.get(str(v)) if pd.notna(v) else v for v in col]
                df[name] = pd.Categorical(values, categories=levels)
            elif not isinstance(col.dtype, pd.CategoricalDtype):
                # R's default: levels sorted
                df[name] = pd.Categorical(col, categories=sorted(observed, key=_sort_key))
    rec.ok("predictor_types", "predictor types as planned")
    return df


def _sort_key(v):
    return (0, v, "") if isinstance(v, int | float | np.number) else (1, 0, str(v))


def check_level_constancy(df: pd.DataFrame, spec: dict, rec: _Recorder) -> None:
    """A variable declared at level k must not vary within a level-k cluster."""
    for i, lv in enumerate(spec["levels"][1:], start=1):
        for name in lv["predictors"]:
            nun = df.groupby(lv["id"], observed=True)[name].nunique(dropna=True)
            bad = nun[nun > 1]
            if len(bad):
                rec.fail(
                    "level_constancy",
                    f"levels[{i}].predictors.{name}: {name!r} is declared at level "
                    f"{lv['name']!r} but varies within {len(bad)} cluster(s) of {lv['id']!r} "
                    f"(IDs {_few(bad.index)})",
                )
    rec.ok("level_constancy", "higher-level predictors are constant within their clusters")


def check_ranges(df: pd.DataFrame, spec: dict, rec: _Recorder) -> None:
    items = [("outcome.range", spec["outcome"]["name"], spec["outcome"]["range"])]
    for i, lv in enumerate(spec["levels"]):
        for name, p in lv["predictors"].items():
            items.append((f"levels[{i}].predictors.{name}.range", name, p["range"]))
    any_bad = False
    for key, col, rng in items:
        if not rng:
            continue
        lo, hi = rng
        bad = (df[col] < lo) | (df[col] > hi)
        if bad.any():
            any_bad = True
            rec.soft(
                "ranges",
                "ranges",
                f"{key}: {int(bad.sum())} value(s) of {col!r} outside [{lo}, {hi}], {_rows(bad)}",
                column=col,
            )
    if not any_bad:
        rec.ok("ranges", "all values within the planned ranges")


def check_constant_predictors(df: pd.DataFrame, spec: dict, rec: _Recorder) -> None:
    found = False
    for i, lv in enumerate(spec["levels"]):
        for name in lv["predictors"]:
            if df[name].nunique(dropna=True) < 2:
                found = True
                rec.soft(
                    "constant_predictors",
                    "constant_predictors",
                    f"levels[{i}].predictors.{name}: {name!r} is constant "
                    f"(value {_few(df[name].dropna().unique(), 1)})",
                    column=name,
                )
    if not found:
        rec.ok("constant_predictors", "no constant predictors")


def check_duplicates(df: pd.DataFrame, spec: dict, rec: _Recorder) -> None:
    dup = df.duplicated(keep="first")
    if dup.any():
        rec.soft(
            "duplicate_rows",
            "duplicate_rows",
            f"data: {int(dup.sum())} duplicated row(s), {_rows(dup)}",
            n=int(dup.sum()),
        )
    else:
        rec.ok("duplicate_rows", "no duplicated rows")


def check_cluster_sizes(df: pd.DataFrame, spec: dict, rec: _Recorder) -> None:
    k = spec["checks"].get("min_cluster_size", 2)
    found = False
    for i, lv in enumerate(spec["levels"][1:], start=1):
        sizes = df.groupby(lv["id"], observed=True).size()
        small = sizes[sizes < k]
        if len(small):
            found = True
            rec.soft(
                "small_clusters",
                "small_clusters",
                f"levels[{i}].id: {len(small)} {lv['name']} cluster(s) with fewer than {k} rows "
                f"(IDs {_few(small.index)})",
                ids=[str(x) for x in small.index[:20]],
            )
    if not found:
        rec.ok("small_clusters", f"all clusters have at least {k} rows")


# --------------------------------------------------------------------------- driver


def plan_columns(spec: dict) -> list[str]:
    cols = [lv["id"] for lv in spec["levels"] if lv["id"]]
    cols.append(spec["outcome"]["name"])
    for lv in spec["levels"]:
        cols.extend(lv["predictors"])
    cols.extend(spec.get("extra_columns", ()))  # weights, residual-structure columns
    if spec.get("survey"):  # weights and plausible values (mlmpipe.data.survey_checks)
        cols.extend(survey_columns(spec["survey"]))
    return list(dict.fromkeys(cols))


def validate_data(df: pd.DataFrame, spec: dict) -> tuple[pd.DataFrame, dict]:
    """Run every check; return the cleaned data (plan columns only) and the check report.

    ``spec`` is the decoded ``Plan.slice_validate()``.
    """
    rec = _Recorder(spec["checks"])
    check_has_rows(df, spec, rec)
    check_columns_present(df, spec, rec)
    out = df[plan_columns(spec)].copy()
    out = apply_missing_codes(out, spec, rec)
    out = apply_file_metadata(out, df.attrs, spec, rec)  # SPSS/Stata missing values and labels
    out = blank_strings_missing(out, rec)
    check_all_missing(out, spec, rec)
    check_ids(out, spec, rec)
    out = build_composite_ids(out, spec, rec)
    check_nesting(out, spec, rec)
    check_cluster_counts(out, spec, rec)
    check_outcome(out, spec, rec)
    check_levels_vs_rows(out, spec, rec)
    check_suspected_codes(out, spec, rec)
    out = coerce_predictors(out, spec, rec)
    check_level_constancy(out, spec, rec)
    check_ranges(out, spec, rec)
    check_constant_predictors(out, spec, rec)
    check_duplicates(out, spec, rec)
    check_cluster_sizes(out, spec, rec)
    out = out.reset_index(drop=True)
    report = {
        "n_rows_raw": int(len(df)),
        "n_rows": int(len(out)),
        "columns": list(out.columns),
        "checks": [asdict(r) for r in rec.results],
    }
    return out, report
