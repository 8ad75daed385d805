"""The report page around the rendered notebook: document title, a sticky table of contents of
the sections and appendices, a reading stylesheet and a print stylesheet (printing to PDF from the
browser opens every appendix, hides the contents bar and keeps tables and figures whole)."""

from __future__ import annotations

import html as _html
import re

PAGE_CSS = """
body.jp-Notebook, body { font-family: 'Segoe UI', 'Helvetica Neue', Arial, sans-serif; }
nav.mp-toc { position: fixed; top: 0; left: 0; width: 14rem; height: 100vh; overflow-y: auto;
  padding: 1rem 0.8rem; box-sizing: border-box; border-right: 1px solid #ddd; background: #fafafa;
  font-size: 13px; line-height: 1.35; z-index: 10; }
nav.mp-toc b { display: block; margin-bottom: 0.4rem; }
nav.mp-toc a { display: block; color: #234; text-decoration: none; padding: 2px 0; }
nav.mp-toc a:hover { text-decoration: underline; }
nav.mp-toc a.appendix-link { padding-left: 0.6rem; color: #456; }
body > main, body.jp-Notebook > main { margin-left: 14.5rem; max-width: 62rem; }
.jp-Cell { padding-top: 0 !important; padding-bottom: 0 !important; }
h1 { margin-top: 0.3rem !important; }
table.mp { border-collapse: collapse; margin: 0.4rem 0 0.8rem 0; font-size: 13px; }
table.mp caption { text-align: left; caption-side: top; padding-bottom: 4px; }
table.mp thead th { border-top: 1.5px solid #000; border-bottom: 1px solid #000;
  padding: 3px 9px; text-align: left; font-weight: 600; }
table.mp td, .jp-RenderedHTMLCommon table.mp td { padding: 2px 9px; text-align: left;
  vertical-align: top; }
.jp-RenderedHTMLCommon table.mp th { text-align: left; }
table.mp .num, .jp-RenderedHTMLCommon table.mp .num { text-align: right;
  font-variant-numeric: tabular-nums; }
.jp-RenderedHTMLCommon table.apa td { text-align: center; }
.jp-RenderedHTMLCommon table.apa td:first-child, .jp-RenderedHTMLCommon table.apa th:first-child {
  text-align: left; }
.jp-RenderedHTMLCommon table.mp caption, .jp-RenderedHTMLCommon table.apa caption {
  text-align: left; }
table.mp tbody tr:last-child td { border-bottom: 1.5px solid #000; }
table.mp tr.flag td { color: #b00020; font-weight: bold; }
p.mp-empty { font-style: italic; color: #444; }
figure.mp-figure { margin: 0.5rem 0; }
figure.mp-figure img { max-width: 100%; }
figure.mp-figure figcaption { font-size: 13px; max-width: 50rem; }
details.appendix { border-top: 1px solid #ccc; padding: 0.3rem 0; }
details.appendix > summary { cursor: pointer; list-style-position: outside; }
details.appendix > summary h2 { display: inline; font-size: 1.25rem; }
details.appendix > summary .mp-lead { font-size: 13px; color: #333; margin: 0.2rem 0 0.3rem 0; }
.appendix-body { padding-left: 0.5rem; }
@media (max-width: 900px) { nav.mp-toc { display: none; } body > main { margin-left: 0; } }
@media print {
  nav.mp-toc { display: none !important; }
  body > main, body.jp-Notebook > main { margin-left: 0 !important; max-width: none !important; }
  body { font-size: 10.5pt; color: #000; background: #fff; }
  a.anchor-link { display: none !important; }
  details.appendix > summary { list-style: none; }
  details.appendix > summary::-webkit-details-marker { display: none; }
  table, figure, img { break-inside: avoid; page-break-inside: avoid; }
  h1, h2, h3 { break-after: avoid; page-break-after: avoid; }
  details.appendix { break-before: page; border-top: none; }
  details.appendix ~ details.appendix { break-before: auto; }
}
"""

#: opens every appendix before printing and the target appendix of a contents link
PAGE_SCRIPT = """<script>
window.addEventListener("beforeprint", () => {
  document.querySelectorAll("details").forEach((d) => { d.open = true; });
});
function mpOpen() {
  const t = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
  const d = t && t.closest("details");
  if (d) { d.open = true; t.scrollIntoView(); }
}
window.addEventListener("hashchange", mpOpen);
window.addEventListener("load", mpOpen);
</script>"""

_H2 = re.compile(r'<h2 id="([^"]+)"[^>]*>(.*?)</h2>', re.S)
_TAGS = re.compile(r"<[^>]+>")


def contents(html: str) -> list[tuple[str, str, bool]]:
    """(id, text, is_appendix) of every level-2 heading, in document order."""
    out = []
    for m in _H2.finditer(html):
        text = _html.unescape(_TAGS.sub("", m.group(2))).replace("\u00b6", "").strip()
        out.append((m.group(1), text, text.startswith("Appendix")))
    return out


def toc_html(entries: list[tuple[str, str, bool]]) -> str:
    links = "".join(
        f'<a href="#{_html.escape(i)}"{" class=appendix-link" if app else ""}>{_html.escape(t)}</a>'
        for i, t, app in entries
    )
    return f'<nav class="mp-toc" aria-label="Contents"><b>Contents</b>{links}</nav>'


def finalize(html: str, title: str) -> str:
    """``html`` (a rendered report) with ``title`` as document title, the contents bar after
    ``<body>``, the page and print stylesheets and the appendix script."""
    html = re.sub(
        r"<title>.*?</title>", f"<title>{_html.escape(title)}</title>", html, count=1, flags=re.S
    )
    html = html.replace("</head>", f"<style>{PAGE_CSS}</style></head>", 1)
    html = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + toc_html(contents(html)), html, count=1)
    return html.replace("</body>", PAGE_SCRIPT + "</body>", 1)
