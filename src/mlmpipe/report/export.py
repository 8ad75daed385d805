"""Write an :class:`~mlmpipe.report.apa.ApaTable` as HTML, LaTeX (booktabs), CSV and DOCX.

APA layout: "Table N" in bold, the title in italics on the next line, horizontal rules only (top,
below the header, bottom), and "*Note.*" under the table. DOCX is produced by pandoc from the HTML
(the ``pypandoc-binary`` wheel ships pandoc).
"""

from __future__ import annotations

import html as _html
import os
import re
from pathlib import Path

import pypandoc

from mlmpipe.report.apa import ApaTable

FORMATS = ("html", "docx", "tex", "csv")

APA_CSS = """
table.apa { border-collapse: collapse; font-family: 'Times New Roman', serif; font-size: 11pt; }
table.apa caption { text-align: left; caption-side: top; padding-bottom: 6px; }
table.apa thead tr:first-child th { border-top: 1.5px solid black; }
table.apa thead th { border-bottom: 1px solid black; padding: 3px 10px; text-align: center; }
table.apa tbody tr:last-child td { border-bottom: 1.5px solid black; }
table.apa td { padding: 2px 10px; text-align: center; }
table.apa td:first-child, table.apa th:first-child { text-align: left; }
p.apa-note { font-family: 'Times New Roman', serif; font-size: 10pt; max-width: 60em; }
"""


def to_html(t: ApaTable, standalone: bool = False) -> str:
    e = _html.escape
    head = "".join(f"<th>{e(str(c))}</th>" for c in t.body.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{e(str(v))}</td>" for v in row) + "</tr>"
        for row in t.body.itertuples(index=False)
    )
    out = (
        f'<table class="apa"><caption><b>Table {t.number}</b><br><i>{e(t.title)}</i></caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    )
    if t.note:
        out += f'<p class="apa-note"><i>Note.</i> {e(t.note)}</p>'
    if standalone:
        out = (
            f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Table {t.number}</title>'
            f"<style>{APA_CSS}</style></head><body>{out}</body></html>"
        )
    return out


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\u2212": "$-$",
    "\u2014": "---",
    "\u03c4": r"$\tau$",
    "\u03c1": r"$\rho$",
    "\u03c3": r"$\sigma$",
    "\u03c7": r"$\chi$",
    "\u00b2": r"\textsuperscript{2}",
    "<": r"\textless{}",
}


def latex_escape(s: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(s))


def to_latex(t: ApaTable) -> str:
    """A ``table`` float with a booktabs ``tabular`` (needs ``\\usepackage{booktabs}``)."""
    cols = "l" + "c" * (t.body.shape[1] - 1)
    lines = [
        r"\begin{table}[htbp]",
        r"\centering",
        rf"\caption*{{\textbf{{Table {t.number}}}\\ \textit{{{latex_escape(t.title)}}}}}",
        rf"\begin{{tabular}}{{{cols}}}",
        r"\toprule",
        " & ".join(latex_escape(c) for c in t.body.columns) + r" \\",
        r"\midrule",
    ]
    for row in t.body.itertuples(index=False):
        lines.append(" & ".join(latex_escape(v) for v in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if t.note:
        lines += [r"\par\smallskip", rf"{{\small\textit{{Note.}} {latex_escape(t.note)}}}"]
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def _pandoc_docx(html: str, path: str | Path) -> None:
    """HTML -> DOCX with pandoc; ``SOURCE_DATE_EPOCH=0`` makes the file byte-identical across runs
    (pandoc otherwise stamps the creation time into docProps/core.xml and the zip entries)."""
    old = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = "0"
    try:
        pypandoc.convert_text(html, "docx", format="html", outputfile=str(path))
    except (OSError, RuntimeError) as exc:
        raise RuntimeError(f"{path}: pandoc could not write the DOCX ({exc})") from exc
    finally:
        if old is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)
        else:
            os.environ["SOURCE_DATE_EPOCH"] = old


def to_docx(t: ApaTable, path: str | Path) -> None:
    """DOCX through pandoc (pypandoc-binary); raises RuntimeError naming the file when it fails."""
    _pandoc_docx(to_html(t, standalone=True), path)


def write_table(t: ApaTable, stem: str | Path) -> list[Path]:
    """Write ``stem.html``, ``stem.docx``, ``stem.tex`` and ``stem.csv``; returns the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(f".{f}") for f in FORMATS]
    paths[0].write_text(to_html(t, standalone=True), encoding="utf-8")
    to_docx(t, paths[1])
    paths[2].write_text(to_latex(t), encoding="utf-8")
    t.body.to_csv(paths[3], index=False)
    return paths


def report_to_docx(html_path: str | Path, docx_path: str | Path) -> None:
    """The rendered HTML report as DOCX through pandoc: embedded figures become Word images and
    HTML tables Word tables; nbconvert's heading anchors (the pilcrow links) are dropped first."""
    html = Path(html_path).read_text(encoding="utf-8")
    html = re.sub(r'<a class="anchor-link"[^>]*>.*?</a>', "", html, flags=re.S)
    _pandoc_docx(html, docx_path)
