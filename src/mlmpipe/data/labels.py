"""What an SPSS/Stata file declares about its values, applied to the analysed copy.

* The file's own missing values (SPSS user-defined missing values and ranges, Stata extended
  missing ``.a``-``.z``) were set to missing by the reader (:mod:`mlmpipe.data.readers`); here they
  are listed in the data checks (check ``file_missing``).
* Value labels: a predictor the plan declares ``binary`` or ``categorical`` enters the model as a
  factor whose categories are its *value labels*, in the order of their codes (so the lowest code
  is the reference category, as in SPSS's and R's defaults), and the tables, figures and
  predictions show those labels. A code without a label keeps its code as its label. A predictor
  declared ``continuous`` and the outcome enter with their codes. When the plan lists
  ``levels:`` as codes (all of them codes, none a label), the column keeps its codes. The raw
  file is not touched; the check ``value_labels`` lists each column's code -> label map.
"""

from __future__ import annotations

from typing import Any

import pandas as pd


def _code_text(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _planned_as_codes(levels: list, labels: dict) -> bool:
    names = {str(lab) for lab in labels.values()}
    codes = {_code_text(c) for c in labels}
    planned = {str(v) for v in levels}
    return not (planned & names) and bool(planned & codes)


def labelled_factor(col: pd.Series, labels: dict) -> pd.Series:
    """``col`` (codes) as a categorical of labels in code order (unlabelled codes keep their code
    text)."""
    observed = sorted(pd.unique(col.dropna()).tolist())
    by_code = {c: labels.get(c, labels.get(float(c), _code_text(c))) for c in observed}
    cats = list(dict.fromkeys(str(by_code[c]) for c in observed))
    values = [str(by_code[v]) if pd.notna(v) else None for v in col]
    return pd.Series(pd.Categorical(values, categories=cats), index=col.index, name=col.name)


def apply_file_metadata(df: pd.DataFrame, attrs: dict, spec: dict, rec: Any) -> pd.DataFrame:
    """Record the file's missing values and turn the value labels of factor predictors into
    category labels (see the module docstring). ``rec`` is the data checks' recorder."""
    missing = {k: v for k, v in (attrs.get("file_missing") or {}).items() if k in df}
    if missing:
        parts = [
            f"{name}: " + ", ".join(f"{n} x {code}" for code, n in vals.items())
            for name, vals in missing.items()
        ]
        rec.ok(
            "file_missing",
            "missing values declared in the file (SPSS user-missing, Stata .a-.z) set to "
            "missing: " + "; ".join(parts),
            recoded=missing,
        )
    labels = attrs.get("value_labels") or {}
    used: dict[str, dict[str, str]] = {}
    for lv in spec["levels"]:
        for name, p in lv["predictors"].items():
            lab = labels.get(name)
            if not lab or p["type"] == "continuous" or name not in df:
                continue
            if p["levels"] is not None and _planned_as_codes(list(p["levels"]), lab):
                continue
            if not pd.api.types.is_numeric_dtype(df[name]):
                continue
            df[name] = labelled_factor(df[name], lab)
            used[name] = {_code_text(c): str(v) for c, v in sorted(lab.items())}
    if used:
        parts = [
            f"{name} (" + ", ".join(f"{c} = {v}" for c, v in m.items()) + ")"
            for name, m in used.items()
        ]
        rec.ok(
            "value_labels",
            "value labels are the category labels (in code order, the lowest code the "
            "reference): " + "; ".join(parts),
            labels=used,
        )
    return df
