"""Report HTML helpers: tables without notebook artefacts, the page (contents, print stylesheet,
title), the Method paragraph's sentences and the missingness-pattern figure's labels."""

import numpy as np
import pandas as pd

from mlmpipe.missing.figures import pattern_figure
from mlmpipe.report import page
from mlmpipe.report import present as P
from mlmpipe.report.method import convergence_sentence, missing_sentence
from tests.report.artefacts import artefacts


def _df():
    return pd.DataFrame(
        {
            "term": ["(Intercept)", "x", "z"],
            "estimate": [12.6369, -1.2345, 0.000012],
            "df": [158.0, 7000.0, np.nan],
            "p": [1.0395e-42, 0.03214, 0.5],
            "ICC": [0.1801, np.nan, 0.05],
            "note": ["ok", None, "higher-level predictors are constant within their clusters"],
        },
        index=[5, 6, 7],
    )


def test_table_html_has_no_index_nan_and_apa_p():
    html = P.table_html(_df())
    assert artefacts(html) == []
    assert "<th" not in html.split("</thead>")[1]  # no index column
    assert ">< .001<" in html.replace("&lt;", "<") and ">.032<" in html and ">.500<" in html
    assert ">.180<" in html and ">158<" in html and "\u2014" in html  # bounded, integral, missing
    assert "\u22121.23" in html and "1.2e\u221205" in html  # minus sign, tiny value kept visible
    assert "constant within their clusters" in html  # not truncated
    assert html.count("<td") == 18  # 3 rows x 6 columns, no index cell


def test_labelled_index_becomes_a_column_row_numbers_go():
    t = pd.DataFrame({"fmi": [0.1, 0.25]}, index=pd.Index(["x", "z"], name="term"))
    html = P.table_html(t)
    assert "<th>term</th>" in html and "<td>x</td>" in html and ">.100<" in html
    assert artefacts(html) == []


def test_empty_table_is_a_sentence_and_the_checker_catches_artefacts():
    assert P.table_html(pd.DataFrame(columns=["a"]), empty="No outliers.") == (
        '<p class="mp-empty">No outliers.</p>'
    )
    bad = _df().to_html()  # what the notebook displayed before
    found = " | ".join(artefacts(bad))
    assert "dataframe" in found and "index" in found and "NaN" in found
    assert "without body rows" not in found
    assert artefacts("<table><thead><tr><th>a</th></tr></thead><tbody></tbody></table>")
    assert artefacts("<p>estimate 2.1, p = 0.034</p>") and artefacts("<td>1.0395e-42</td>")


def test_appendix_folds_markdown_tables_and_figures():
    a = P.Appendix("appendix-x", "Appendix X. Things", "2 of 3 checks passed.")
    a.md("**bold** text").table(pd.DataFrame(), empty="Nothing.").png(b"\x89PNG", "fig")
    html = a._repr_html_()
    assert html.startswith('<details class="appendix" id="appendix-x"><summary><h2')
    assert "2 of 3 checks passed." in html.split("</summary>")[0]
    assert "<strong>bold</strong>" in html and "Nothing." in html and "data:image/png" in html


def test_page_adds_contents_title_and_print_rules():
    html = (
        "<html><head><title>Notebook</title></head><body class='jp-Notebook'><main>"
        '<h2 id="Method">Method<a class="anchor-link" href="#Method">\u00b6</a></h2>'
        + P.Appendix("appendix-a", "Appendix A. Data")._repr_html_()
        + "</main></body></html>"
    )
    out = page.finalize(html, "My study")
    assert "<title>My study</title>" in out
    nav = out.split('<nav class="mp-toc"', 1)[1].split("</nav>", 1)[0]
    assert 'href="#Method">Method</a>' in nav and 'href="#appendix-a-h"' in nav
    assert "@media print" in out and "beforeprint" in out
    assert out.index("<nav") < out.index("<h2")


def test_method_sentences():
    assert "listwise" in missing_sentence(
        {"method": "listwise", "rows": 10, "rows_lost_listwise": 2}
    )
    mi = missing_sentence({"method": "pmm", "m": 20, "rows": 10, "complete_rows": 7})
    assert "m = 20" in mi and "Rubin" in mi and "3 incomplete rows" in mi
    log = {
        "fits": [
            {"used_rung": "as planned", "resolved": True},
            {"used_rung": "drop_smallest_variance", "resolved": True},
        ]
    }
    s = convergence_sentence(log)
    assert "Of 2 fits, 1 converged" in s and "drop_smallest_variance (1)" in s


def _drawn(report):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = pattern_figure(report)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return fig, canvas.get_renderer()


def test_missing_pattern_figure_leaves_room_for_its_labels():
    """One pattern (the complete-data case) and long names: the grid keeps a readable height,
    the rotated names sit below it inside the figure, pattern labels do not overlap."""
    cols = ["mathachievement_score", "minority", "ses_centered", "sex", "disclim", "sector_type"]
    one = {"patterns": [{"pattern": "." * 6, "rows": 7185}], "variables_order": cols}
    many = {
        "variables_order": cols,
        "patterns": [{"pattern": "." * i + "M" + "." * (5 - i), "rows": 3} for i in range(6)]
        + [{"pattern": "MMMMMM", "rows": 1}, {"pattern": "." * 6, "rows": 6900}],
    }
    for report in (one, many):
        fig, r = _drawn(report)
        ax = fig.axes[0]
        grid = ax.get_window_extent(r)
        assert grid.height >= 0.8 * fig.dpi  # not squeezed flat by the labels
        fb = fig.bbox
        for t in ax.get_xticklabels():
            b = t.get_window_extent(r)
            assert b.y1 <= grid.y0 + 1 and b.y0 >= fb.y0 - 1 and b.x0 >= fb.x0 - 1
        ys = [t.get_window_extent(r) for t in ax.get_yticklabels()]
        for i, a in enumerate(ys):
            assert a.x0 >= fb.x0 - 1
            for b in ys[i + 1 :]:
                assert not a.overlaps(b)
