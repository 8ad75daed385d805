"""HTML building blocks of the report: clean tables, figures and collapsible appendices.

Tables follow the APA Publication Manual (7th ed., sec. 6.36 and ch. 7): no row index, p as
``< .001`` / ``.032``, no leading zero for statistics bounded by 1 (p, correlations, ICC, R²,
shares), a fixed number of decimals per column chosen from the column's magnitude, an em dash for
a value that does not exist, and a sentence instead of a table without rows. The HTML is written
here rather than by pandas or great_tables so the same plain ``<table>`` reaches the DOCX through
pandoc unchanged (great_tables' inline-styled output gains nothing there).
"""

from __future__ import annotations

import base64
import html as _html
import json
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

EM_DASH = "\u2014"
MINUS = "\u2212"

_P_NAMES = {"p", "p value", "p-value", "pvalue", "pr(>chisq)", "p_value", "p (lrt)"}
_BOUNDED = ("fmi", "icc", "r2", "r²", "corr", "share", "proportion", "rho", "prv", "percent_")
_LABELS = {
    "se": "SE",
    "ci_low": "CI low",
    "ci_high": "CI high",
    "nobs": "N",
    "npar": "Parameters",
    "sd": "SD",
    "n": "N",
}


def is_p_column(name: str) -> bool:
    n = str(name).strip().lower()
    return n in _P_NAMES or n.startswith("p_") or n.endswith("_p") or n.endswith(" p")


def _bounded(name: str) -> bool:
    n = str(name).lower()
    return is_p_column(n) or any(k in n for k in _BOUNDED)


def missing(x: Any) -> bool:
    if x is None or x is pd.NA or x is pd.NaT:
        return True
    return isinstance(x, (float, np.floating)) and math.isnan(x)


def fmt_p(p: Any) -> str:
    """APA p: ``< .001``, else three decimals without the leading zero; em dash when absent."""
    if missing(p):
        return EM_DASH
    p = float(p)
    return "< .001" if p < 0.001 else f"{p:.3f}".replace("0.", ".", 1)


def _num(x: float, digits: int, leading_zero: bool = True) -> str:
    if not math.isfinite(x):
        return "\u221e" if x > 0 else MINUS + "\u221e"
    if x != 0 and abs(x) < min(1e-4, 0.5 * 10.0**-digits):  # a tiny variance: keep it visible
        s = f"{x:.2g}"
    else:
        s = f"{x:.{digits}f}"
        if re.fullmatch(r"-0\.?0*", s):  # a small negative rounded to zero: no signed zero
            s = s[1:]
    if not leading_zero:
        s = re.sub(r"^(-?)0\.", r"\1.", s)
    return s.replace("-", MINUS)


def decimals(values: Sequence[float]) -> int:
    """Decimals for a column: 1 from hundreds up, 2 for values of order 1 to 100, 3 below 1,
    4 below .01 (by the median absolute nonzero value)."""
    a = np.abs(np.asarray([v for v in values if math.isfinite(v) and v != 0], dtype=float))
    if not len(a):
        return 2
    m = float(np.median(a))
    return 1 if m >= 100 else 2 if m >= 1 else 3 if m >= 0.01 else 4


def _cell(x: Any) -> str:
    if missing(x):
        return EM_DASH
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return str(int(x)).replace("-", MINUS)
    if isinstance(x, (float, np.floating)):
        return _num(float(x), 3 if abs(x) < 1 else 2)
    if isinstance(x, (list, tuple)):
        return ", ".join(_cell(v) for v in x)
    if isinstance(x, dict):
        return json.dumps(x, default=str)
    return str(x)


def column_formatter(name: str, col: pd.Series) -> Callable[[Any], str]:
    """The formatter of one column, chosen from its name (p values, bounded statistics) and its
    values (integers, magnitudes)."""
    if is_p_column(name):
        return fmt_p
    if pd.api.types.is_bool_dtype(col):
        return _cell
    if pd.api.types.is_numeric_dtype(col):
        vals = [float(v) for v in col if not missing(v)]
        if vals and all(math.isfinite(v) and v == int(v) and abs(v) < 1e15 for v in vals):
            return lambda x: EM_DASH if missing(x) else str(int(x)).replace("-", MINUS)
        d = decimals(vals)
        lz = not (_bounded(name) and all(abs(v) <= 1 for v in vals))
        return lambda x: EM_DASH if missing(x) else _num(float(x), d, lz)
    return _cell


def label(name: Any) -> str:
    s = str(name)
    return _LABELS.get(s, s.replace("_", " "))


def table_html(
    df: pd.DataFrame | None,
    *,
    empty: str = "No rows.",
    caption: str | None = None,
    number: int | None = None,
    note: str | None = None,
    flag_rows: Sequence[bool] | None = None,
) -> str:
    """``df`` as an HTML table without index; ``empty`` (a sentence) when it has no rows."""
    if df is not None and hasattr(df, "data") and not isinstance(df, pd.DataFrame):
        df = df.data  # a pandas Styler
    if df is None or df.empty:
        return f'<p class="mp-empty">{_html.escape(empty)}</p>'
    # a labelled index (variable names, terms) becomes the first column; row numbers go
    named = df.index.name is not None or not pd.api.types.is_integer_dtype(df.index)
    df = df.reset_index(drop=not named)
    e = _html.escape
    fmts = [column_formatter(c, df[c]) for c in df.columns]
    numeric = [
        pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
        for c in df.columns
    ]
    head = "".join(
        f"<th{' class=num' if n else ''}>{e(label(c))}</th>"
        for c, n in zip(df.columns, numeric, strict=True)
    )
    rows = []
    for i, row in enumerate(df.itertuples(index=False)):
        cls = ' class="flag"' if flag_rows is not None and flag_rows[i] else ""
        cells = "".join(
            f"<td{' class=num' if n else ''}>{e(f(v))}</td>"
            for f, v, n in zip(fmts, row, numeric, strict=True)
        )
        rows.append(f"<tr{cls}>{cells}</tr>")
    cap = ""
    if caption:
        num = f"<b>Table {number}</b><br>" if number is not None else ""
        cap = f"<caption>{num}<i>{e(caption)}</i></caption>"
    out = f'<table class="mp">{cap}<thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    if note:
        out += f'<p class="apa-note"><i>Note.</i> {e(note)}</p>'
    return out


class Html:
    """A piece of HTML that Jupyter displays as such (``_repr_html_``)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _repr_html_(self) -> str:
        return self.text


def table(df: pd.DataFrame | None, **kw: Any) -> Html:
    """:func:`table_html` for ``display()``."""
    return Html(table_html(df, **kw))


def markdown_html(text: str) -> str:
    import mistune  # nbconvert's Markdown renderer; only needed when a report is built

    return mistune.html(text)


def inline_markdown(text: str) -> str:
    """One line of Markdown (code spans, emphasis) as inline HTML, without the ``<p>`` wrapper."""
    out = markdown_html(text).strip()
    if out.startswith("<p>") and out.endswith("</p>") and out.count("<p>") == 1:
        out = out[3:-4]
    return out


def png_html(data: bytes, alt: str = "", caption: str | None = None) -> str:
    src = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    img = f'<img src="{src}" alt="{_html.escape(alt)}">'
    if caption:
        return f'<figure class="mp-figure">{img}<figcaption>{caption}</figcaption></figure>'
    return f'<figure class="mp-figure">{img}</figure>'


def renumber_tables(html: str, offset: int) -> str:
    """``<b>Table N</b>`` captions of pre-rendered APA tables shifted by ``offset``."""
    return re.sub(r"<b>Table (\d+)</b>", lambda m: f"<b>Table {int(m.group(1)) + offset}</b>", html)


def apa_fragment(path: str, offset: int = 0) -> str:
    """The ``<body>`` of a standalone APA table file, renumbered by ``offset``."""
    text = open(path, encoding="utf-8").read()
    body = text.split("<body>", 1)[-1].split("</body>", 1)[0]
    return renumber_tables(body, offset)


class Appendix:
    """A collapsible appendix (``<details>``) collecting Markdown, tables and figures, shown as
    one HTML output so the whole section folds. Items follow the report sections' protocol:
    ``(kind, obj)`` with kind ``md``, ``png`` or a table object."""

    def __init__(self, key: str, title: str, summary: str = "") -> None:
        self.key, self.title, self.summary = key, title, summary
        self.parts: list[str] = []

    def md(self, text: str) -> Appendix:
        self.parts.append(markdown_html(text))
        return self

    def raw(self, text: str) -> Appendix:
        self.parts.append(text)
        return self

    def heading(self, text: str) -> Appendix:
        self.parts.append(f"<h3>{_html.escape(text)}</h3>")
        return self

    def table(self, df: pd.DataFrame | None, **kw: Any) -> Appendix:
        self.parts.append(table_html(df, **kw))
        return self

    def png(self, data: bytes, alt: str = "", caption: str | None = None) -> Appendix:
        self.parts.append(png_html(data, alt, caption))
        return self

    def item(self, kind: str, obj: Any) -> Appendix:
        if kind == "md":
            return self.md(obj)
        if kind == "png":
            return self.png(obj)
        if isinstance(obj, pd.DataFrame) or hasattr(obj, "data"):
            return self.table(obj)
        if hasattr(obj, "_repr_html_"):
            return self.raw(obj._repr_html_())
        return self.md(str(obj))

    def _repr_html_(self) -> str:
        summ = f'<div class="mp-lead">{inline_markdown(self.summary)}</div>' if self.summary else ""
        return (
            f'<details class="appendix" id="{self.key}"><summary><h2 id="{self.key}-h">'
            f"{_html.escape(self.title)}</h2>{summ}</summary>"
            f'<div class="appendix-body">{"".join(self.parts)}</div></details>'
        )
