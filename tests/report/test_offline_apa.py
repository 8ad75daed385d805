"""Offline HTML post-processing and the APA table writers (HTML, LaTeX, CSV, DOCX via pandoc)."""

import pandas as pd
import pytest

from mlmpipe.report.apa import ApaTable, comparison_table, fmt, fmt_p
from mlmpipe.report.export import to_html, to_latex, write_table
from mlmpipe.report.offline import make_offline, remote_references

PAGE = """<html><head>
<script src="https://cdn.example/require.min.js"></script>
<script type="text/x-mathjax-config">MathJax.Hub.Config({});</script>
<script src="https://cdn.example/mathjax/latest.js?config=TeX"></script>
<link rel="stylesheet" href="https://cdn.example/x.css">
<script type="module">const { default: m } = await import("https://cdn.example/mermaid.mjs");</script>
<script>var local = 1;</script>
</head><body><img src="data:image/png;base64,AAAA"></body></html>"""


def test_make_offline_removes_every_remote_reference():
    assert len(remote_references(PAGE)) == 4
    out = make_offline(PAGE)
    assert remote_references(out) == []
    assert "var local = 1" in out and "data:image/png" in out
    assert "mathjax" not in out.lower()


def test_apa_number_formats():
    assert fmt(-0.123) == "\u22120.12"
    assert fmt(0.456, leading_zero=False) == ".46"
    assert fmt_p(0.0004) == "< .001" and fmt_p(0.0423) == ".042"
    assert fmt(float("nan")) == "" and fmt(None) == ""


@pytest.fixture
def table():
    body = pd.DataFrame({"Parameter": ["a_1 & b", "\u03c4\u00b2 x"], "m0": ["1.00 (0.10)", "50%"]})
    return ApaTable(3, "Models of the Sequence", body, "Note text.")


def test_html_and_latex_layout(table):
    html = to_html(table)
    assert "<b>Table 3</b>" in html and "<i>Models of the Sequence</i>" in html
    assert "<i>Note.</i> Note text." in html and "a_1 &amp; b" in html
    tex = to_latex(table)
    for part in (r"\toprule", r"\midrule", r"\bottomrule", r"a\_1 \& b", r"50\%", r"$\tau$"):
        assert part in tex


def test_write_table_docx_round_trip(table, tmp_path):
    import pypandoc

    paths = write_table(table, tmp_path / "apa_models")
    assert [p.suffix for p in paths] == [".html", ".docx", ".tex", ".csv"]
    text = pypandoc.convert_file(str(paths[1]), "plain", format="docx")
    assert "Table 3" in text and "1.00 (0.10)" in text and "Note." in text
    assert pd.read_csv(paths[3])["m0"].tolist() == ["1.00 (0.10)", "50%"]


def test_comparison_table_marks_tests():
    comp = {
        "estimators": ["reml", "ml"],
        "models": [
            {"model": "m0", "ml": {"npar": 3, "deviance": 10.0, "aic": 16.0, "bic": 20.0}},
            {
                "model": "m1",
                "ml": {"npar": 4, "deviance": 5.0, "aic": 13.0, "bic": 18.0},
                "test": {"against": "m0", "kind": "fixed", "chisq": 5.0, "df": 1, "p": 0.0253},
            },
        ],
    }
    t = comparison_table(comp).body
    assert t.loc[1, "p"] == ".025" and t.loc[1, "Test"] == "vs m0 (fixed)" and t.loc[0, "p"] == ""


def test_docx_is_byte_identical_across_runs(table, tmp_path):
    import time

    from mlmpipe.report.export import to_docx

    to_docx(table, tmp_path / "a.docx")
    time.sleep(1.1)
    to_docx(table, tmp_path / "b.docx")
    assert (tmp_path / "a.docx").read_bytes() == (tmp_path / "b.docx").read_bytes()
