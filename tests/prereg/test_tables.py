"""Report tables of the preregistration sections."""

from mlmpipe.prereg import deviation_report
from mlmpipe.prereg import tables as pt
from mlmpipe.record import FitRecord

FROZEN = {"alpha": 0.05, "seed": 1, "models": [{"name": "m0", "add_fixed": []}]}


def test_deviation_summary_and_red_unexplained_rows():
    assert "no preregistration frozen" in pt.deviation_summary(deviation_report(None, FROZEN))
    none = deviation_report(FROZEN, dict(FROZEN), {"plan_sha256": "f" * 64, "frozen_at": "t"})
    assert "no deviations" in pt.deviation_summary(none) and pt.deviation_table(none).empty
    executed = {**FROZEN, "alpha": 0.01, "seed": 2, "deviations": {"seed": "new seed"}}
    rep = deviation_report(FROZEN, executed, {"plan_sha256": "f" * 64, "frozen_at": "t"})
    line = pt.deviation_summary(rep)
    assert "2 deviation(s)" in line and "1 unexplained" in line and "#b00020" in line
    html = pt.deviation_table(rep).to_html()
    css = html.split("}")[0]  # one CSS rule: the cells of the unexplained row (alpha) in red
    assert "#b00020" in css and "_row0_col3" in css and "_row1_" not in css
    assert "UNEXPLAINED" in html and "new seed" in html


def test_decision_table_lists_rungs_of_fits_that_needed_the_ladder():
    planned = {
        "rung": "as planned",
        "action": "fit",
        "formula": "y ~ (x | g)",
        "outcome": "singular",
    }
    dropped = {
        "rung": "drop_smallest_variance",
        "action": "drop x | g",
        "formula": "y ~ (1 | g)",
        "outcome": "ok",
    }
    log = {
        "summary": {"as planned": 3, "drop_smallest_variance": 1},
        "fits": [
            {
                "model": "a",
                "estimator": "reml",
                "imputation": 0,
                "formula": "y ~ (1 | g)",
                "used_rung": "as planned",
                "decisions": [{**planned, "outcome": "ok", "formula": "y ~ (1 | g)"}],
            },
            {
                "model": "b",
                "estimator": "reml",
                "imputation": 0,
                "formula": "y ~ (1 | g)",
                "used_rung": "drop_smallest_variance",
                "decisions": [planned, dropped],
            },
        ],
    }
    t = pt.decision_table(log)
    assert list(t["rung"]) == ["as planned", "drop_smallest_variance"]
    assert list(t["used"]) == [False, True]
    assert pt.decision_summary(log) == "4 fit(s) -- as planned: 3, drop_smallest_variance: 1"


def test_certificate_table_and_stale_certificate():
    line, t = pt.certificate_table({})
    assert "No reproducibility check" in line and t.empty
    cert = {
        "passed": True,
        "verified_at": "t",
        "plan_sha256": "a" * 64,
        "same_plan": True,
        "raw_sha256": "b" * 64,
        "same_data": True,
        "n_same": 2,
        "n_compared": 2,
        "rel_tol": 1e-10,
        "rerun_seconds": 3.0,
        "files": [
            {"path": "reports/x.json", "how": "json numbers", "status": "same", "differences": []}
        ],
        "excluded": {"reports/report.html": "rendered"},
    }
    line, t = pt.certificate_table(cert, "a" * 64)
    assert "PASSED" in line and "Stale" not in line and len(t) == 2
    assert "Stale" in pt.certificate_table(cert, "c" * 64)[0]


def test_hypotheses_verdicts():
    def row(term, est, p):
        return {"term": term, "estimate": est, "p": p, "ci_low": est - 1, "ci_high": est + 1}

    fits = [
        {"model": "m", "estimator": "ml", "fixed": [row("x", -9.0, 0.001)]},
        {
            "model": "m",
            "estimator": "reml",
            "fixed": [row("x", 2.0, 0.001), row("z", -0.1, 0.4)],
            "ladder": {"used_rung": "uncorrelated"},
        },
    ]
    fits = [FitRecord.from_dict({"formula": "y ~ x + z + (1 | g)", **f}) for f in fits]
    hyps = [
        {"name": "H1", "model": "m", "parameter": "x", "direction": "positive"},
        {"name": "H2", "model": "m", "parameter": "x", "direction": "negative"},
        {"name": "H3", "model": "m", "parameter": "z", "direction": "nonzero"},
        {"name": "H4", "model": "m", "parameter": "w", "direction": "positive"},
        {"name": "H5", "model": "other", "parameter": "x", "direction": "positive"},
    ]
    t = pt.evaluate_hypotheses(hyps, fits, 0.05)
    assert list(t["verdict"]) == [
        "supported (model changed by the ladder: uncorrelated)",  # the REML fit is used
        "opposite sign (model changed by the ladder: uncorrelated)",
        "not supported (model changed by the ladder: uncorrelated)",
        "parameter not in the model (terms: x, z)",
        "model not fitted",
    ]
    assert t["estimate"][0] == 2.0
