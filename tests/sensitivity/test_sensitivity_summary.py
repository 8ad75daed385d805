"""Specification table, robustness shares, the dimension that moves the focal most, the curve."""

import pandas as pd
import pytest

from mlmpipe.errors import PlanError
from mlmpipe.sensitivity import report as sens_report
from mlmpipe.sensitivity.figures import specification_curve
from mlmpipe.sensitivity.summary import curve_data, summarize

F = "b"
DIMS = {"method": ["mlm", "gee"], "random": ["slopes", "intercept"]}


def result(sid, method, random, est, p, status="ok"):
    r = {"id": sid, "choices": {"method": method, "random": random}, "status": status}
    if status == "ok":
        r["fixed"] = [
            {
                "term": "a",
                "estimate": 9.0,
                "se": 1.0,
                "df": 10.0,
                "p": 0.0,
                "ci_low": 7,
                "ci_high": 11,
            },
            {
                "term": F,
                "estimate": est,
                "se": 0.5,
                "df": None,
                "p": p,
                "ci_low": est - 1,
                "ci_high": est + 1,
            },
        ]
    else:
        r["reason"] = "df method 'kenward_roger' is not available"
    return r


RESULTS = [
    result("s1", "mlm", "slopes", -1.0, 0.01),
    result("s2", "mlm", "intercept", -1.2, 0.001),
    result("s3", "gee", "-", -0.2, 0.40),
    result("s4", "gee", "-", 0.1, 0.03),
    result("s5", "mlm", "slopes", 0.0, 1.0, status="failed"),
]
SPEC = {"focal": [F], "alpha": 0.05, "dimensions": DIMS, "primary": "s1"}


def test_shares_and_the_dimension_that_moves_the_focal_most():
    summary, table = summarize(RESULTS, SPEC)
    r = summary["focal"][F]
    assert (r["specifications"], r["estimated"], r["failed"]) == (5, 4, 1)
    assert r["reference_sign"] == -1 and r["reference_sign_from"] == "primary specification"
    assert r["share_same_sign"] == pytest.approx(3 / 4)  # s4 is positive
    assert r["share_significant_same_sign"] == pytest.approx(2 / 4)  # s1, s2 (s3 not significant)
    assert r["median_estimate"] == pytest.approx(-0.6)
    # method: mlm mean -1.1, gee mean -0.05 -> range 1.05; random: slopes -1.0 vs intercept -1.2
    effects = {e["dimension"]: e["range"] for e in r["dimension_effects"]}
    assert effects == pytest.approx({"method": 1.05, "random": 0.2})
    assert r["moves_most"] == "method"
    assert summary["failures"] == [
        {"id": "s5", "status": "failed", "reason": "df method 'kenward_roger' is not available"}
    ]
    assert list(table["id"]) == ["s1", "s2", "s3", "s4", "s5"]
    assert table.loc[4, "status"] == "failed" and pd.isna(table.loc[4, "estimate"])
    assert list(curve_data(table)["id"]) == ["s2", "s1", "s3", "s4"]


def test_sign_reference_falls_back_to_the_median_when_the_primary_failed():
    summary, _ = summarize(RESULTS, {**SPEC, "primary": "s5"})
    assert summary["focal"][F]["reference_sign_from"] == "median estimate"


def test_focal_missing_from_an_estimated_specification_is_a_plan_error():
    with pytest.raises(
        PlanError, match="sensitivity.focal: 'c' is not a parameter of specification s1"
    ):
        summarize(RESULTS, {**SPEC, "focal": ["c"]})


def test_specification_curve_draws_every_estimated_specification_and_the_choice_matrix():
    _, table = summarize(RESULTS, SPEC)
    fig = specification_curve(table, DIMS, F, 0.05, primary="s1")
    top, bottom = fig.axes
    assert len(top.collections[1].get_offsets()) == 4  # estimates (vlines are collection 0)
    labels = [t.get_text() for t in bottom.get_yticklabels()]
    assert labels == [
        "method: mlm",
        "method: gee",
        "random: slopes",
        "random: intercept",
        "random: -",
    ]


def test_report_helpers_read_the_artifacts(tmp_path):
    import json

    from mlmpipe.report.figures import to_png

    summary, table = summarize(RESULTS, SPEC)
    paths = [tmp_path / "s.json", tmp_path / "t.csv", tmp_path / "c.png"]
    paths[0].write_text(json.dumps(summary))
    table.to_csv(paths[1], index=False)
    paths[2].write_bytes(to_png(specification_curve(table, DIMS, F)))
    sec = sens_report.load_section([str(p) for p in paths])
    rob = sens_report.robustness_table(sec)
    assert rob.loc[0, "moves it most"] == "method" and rob.loc[0, "failed"] == 1
    assert sens_report.curve_png(sec)[:4] == b"\x89PNG"
    assert len(sens_report.specifications_table(sec)) == 5
    assert list(sens_report.dimension_table(sec)["dimension"]) == ["method", "random"]
    assert sens_report.hausman_table(sec).empty
    assert sens_report.load_section([]) is None
    assert "no multiverse" in sens_report.robustness_table(None).iloc[0, 0]
