"""Surface artefacts seen in a browser on a three-level SPSS report: signed zeros ('−0.00'),
'45 classs', raw Markdown backticks in an appendix lead, a missing code printed as '-99.0', and
Little's test as 'p = 1'."""

import pandas as pd

from mlmpipe.data.checks import _code_text
from mlmpipe.missing.report_section import _p_text
from mlmpipe.report import apa
from mlmpipe.report import present as P


def test_no_signed_zero():
    assert apa.fmt(-0.001) == "0.00" and apa.fmt(-0.004, 3) == "\u22120.004"
    assert apa.fmt(-0.0004, 3, leading_zero=False) == ".000"
    assert P._num(-0.004, 2) == "0.00" and P._num(-0.004, 3) == "\u22120.004"
    assert P._num(-1.234, 2) == "\u22121.23"


def test_correlation_note_counts_clusters_in_plain_english():
    df = pd.DataFrame(
        {
            "class": [1, 1, 2, 2, 3, 3],
            "y": [1.0, 2.0, 3.0, 5.0, 4.0, 7.0],
            "x": [0.5, 1.0, 2.0, 1.5, 3.0, 2.0],
            "size": [20.0, 20.0, 25.0, 25.0, 30.0, 30.0],
        }
    )
    t = apa.correlations_table(df, ["y", "x"], ["size"], "class")
    assert "(3 class clusters)" in t.note and "classs" not in t.note


def test_appendix_lead_renders_code_spans():
    html = P.Appendix("a", "Appendix F", "No multiverse planned (plan key `sensitivity:`).")
    html = html._repr_html_()
    assert "<code>sensitivity:</code>" in html and "`" not in html
    assert '<div class="mp-lead">No multiverse' in html  # inline: no <p> inside the lead


def test_missing_code_and_little_p_text():
    assert _code_text(-99.0) == "-99" and _code_text("-9") == "-9" and _code_text(2.5) == "2.5"
    assert _code_text("") == "''"
    assert _p_text(1.0) == "> .999" and _p_text(0.0321) == "= .032" and _p_text(1e-5) == "< .001"


def test_factor_dummies_read_as_variable_and_category():
    desc = {
        "variables": [
            {"variable": "ses", "level": "student"},
            {
                "variable": "track",
                "level": "student",
                "categories": {"academic": 0.4, "general": 0.6},
            },
            {"variable": "sex", "level": "student", "categories": {"f": 0.5, "m": 0.5}},
        ]
    }
    labels = apa.factor_term_labels(desc)
    assert labels == {
        "trackacademic": "track: academic",
        "trackgeneral": "track: general",
        "sexf": "sex: f",
        "sexm": "sex: m",
    }
    assert apa.term_label("trackgeneral", labels) == "track: general"
    assert apa.term_label("sexm:cses", labels) == "sex: m \u00d7 cses"
    assert apa.term_label("(Intercept)", labels) == "(Intercept)"


def test_executive_summary_labels_dummies_and_uses_minus_signs():
    import numpy as np

    import mlmpipe
    from mlmpipe.record.capture import record_from_result
    from mlmpipe.report.executive import executive_summary

    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(12), 10)
    track = rng.choice(["academic", "general"], size=g.size)
    y = -2.0 * (track == "general") + rng.normal(size=12)[g] + rng.normal(size=g.size)
    d = pd.DataFrame({"y": y, "track": track, "g": g})
    rec = record_from_result(mlmpipe.fit("y ~ track + (1 | g)", d), model="m1", estimator="reml")
    spec = {"alpha": 0.05, "outcome": "y", "models": [{"name": "m1", "label": "+ track"}]}
    desc = {
        "structure": [{"level": "pupil", "n": 120}, {"level": "school", "n": 12}],
        "variables": [{"variable": "track", "categories": {"academic": 0.5, "general": 0.5}}],
    }
    text = executive_summary(spec, [rec], desc, {}, None).text
    assert "track: general \u2212" in text and "trackgeneral" not in text
