"""Make nbconvert's HTML self-contained for offline reading.

nbconvert's ``lab`` template loads require.js, MathJax and mermaid from a CDN. The report needs
none of them (figures are embedded PNGs, tables are HTML, no notebook widgets; formulas are written
in plain text), so every ``<script>`` or ``<link>`` that fetches a remote resource, and every
inline script that imports one, is removed together with the MathJax configuration block. What
remains references no network resource, so the report renders the same without a connection.
"""

from __future__ import annotations

import re

_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S | re.I)
_LINK = re.compile(r"<link\b[^>]*\bhref=[\"']https?://[^>]*>", re.I)
_REMOTE = re.compile(r"(?:src|href)=[\"']https?://")
_QUOTED_URL = re.compile(r"[\"'`]https?://")


def _keep_script(m: re.Match) -> str:
    attrs, body = m.group(1), m.group(2)
    if _REMOTE.search(attrs) or _QUOTED_URL.search(body) or "mathjax" in attrs.lower():
        return ""
    return m.group(0)


def make_offline(html: str) -> str:
    """``html`` without scripts and stylesheets loaded from (or importing from) the network."""
    return _LINK.sub("", _SCRIPT.sub(_keep_script, html))


def remote_references(html: str) -> list[str]:
    """Remote ``src``/``href`` attributes and script imports left in ``html`` (empty when offline)."""
    out = []
    for m in re.finditer(r"(?:src|href)=[\"'](https?://[^\"']+)", html):
        out.append(m.group(1))
    for m in _SCRIPT.finditer(html):
        out += re.findall(r"[\"'](https?://[^\"']+)[\"']", m.group(2))
    return out
