"""Checks of a rendered report's HTML for notebook artefacts (shared by the unit and e2e tests)."""

from __future__ import annotations

import re

_DATA_URI = re.compile(r"data:[a-z]+/[a-z0-9.+-]+;base64,[A-Za-z0-9+/=]+")
_STYLE = re.compile(r"<(style|script)\b.*?</\1>", re.S | re.I)
_TABLE = re.compile(r"<table\b.*?</table>", re.S | re.I)


def visible(html: str) -> str:
    """The HTML without embedded images, stylesheets and scripts."""
    return _STYLE.sub("", _DATA_URI.sub("data:", html))


def artefacts(html: str) -> list[str]:
    """Every notebook artefact found: pandas index cells, NaN/None text, tables without body
    rows, p values not in APA form (scientific notation or a leading zero), signed zeros."""
    text = visible(html)
    out = []
    if "dataframe" in text:
        out.append("a pandas DataFrame table (class dataframe)")
    for t in _TABLE.findall(text):
        body = t.split("</thead>", 1)[-1]
        if not re.search(r"<td\b", body):
            out.append("a table without body rows: " + t[:120])
        if re.search(r"<tbody>\s*<tr[^>]*>\s*<th\b", t):
            out.append("row header (index) cells: " + t[:120])
    for m in re.finditer(r">\s*(NaN|nan|None|NaT)\s*<", text):
        out.append(f"missing-value text {m.group(1)!r}")
    for m in re.finditer(r"\bp\s*[=<]\s*(0\.\d+|\d\.\d+e-\d+)", _TAGS.sub(" ", text)):
        out.append(f"p not in APA form: {m.group(0)!r}")
    for m in re.finditer(r"<td[^>]*>\s*(-?\d\.\d+e[-+]\d+)\s*</td>", text):
        out.append(f"scientific notation cell {m.group(1)!r}")
    for m in re.finditer(r">\s*([\u2212-]0\.0+)\s*<", text):
        out.append(f"a signed zero {m.group(1)!r}")
    if "<title>Notebook</title>" in text:
        out.append("the document title is 'Notebook'")
    return out


_TAGS = re.compile(r"<[^>]+>")
