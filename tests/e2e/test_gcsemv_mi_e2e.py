"""The Gcsemv example plan (config/examples/gcsemv.yaml: real missing values, m = 20 multilevel
imputations, per-imputation centring, pooled fits, delta adjustment, a 12-specification multiverse)
end to end. Slow (3.7 min on 2 cores); in .ci/run's slow subset."""

import json

import pytest

from tests.e2e.project import run_plan


@pytest.mark.slow
@pytest.mark.e2e
def test_gcsemv_multiple_imputation_plan_end_to_end(tmp_path):
    run_plan(tmp_path, "config/examples/gcsemv.yaml")
    rep = tmp_path / "reports"
    missing = json.loads((rep / "missing.json").read_text())
    assert missing["m"] == 20 and missing["rows_lost_listwise"] == 382
    per = {v["variable"]: v["missing"] for v in missing["per_variable"]}
    assert per == {"course": 180, "gender": 0, "written": 202}
    assert missing["little_mcar"]["df"] > 0 and "indicator_models" in missing
    assert set(missing["imputation"]["methods"]) == {"course", "written"}
    # per-imputation centring: each imputed data set has its own school means
    s1 = json.loads((rep / "centering/imp1.json").read_text())["state"]["steps"][0]
    s2 = json.loads((rep / "centering/imp2.json").read_text())["state"]["steps"][0]
    assert s1["variable"] == "written" and s1["cluster_means"] != s2["cluster_means"]
    pooled = json.loads((rep / "fits/m2_written/reml/pooled.json").read_text())
    assert pooled["pooling"]["method"] == "rubin" and pooled["pooling"]["m"] == 20
    fx = {f["term"]: f for f in pooled["fixed"]}
    assert fx["genderM"]["estimate"] == pytest.approx(-8.2, abs=0.6)
    assert 0 < fx["cwritten"]["fmi"] < 0.5
    comp = json.loads((rep / "comparison.json").read_text())
    assert "D2" in comp["models"][1]["test"]["reference"]
    assert 0.2 < comp["icc"]["values"]["school"] < 0.45
    delta = json.loads((rep / "missing_delta.json").read_text())
    assert [r["delta"] for r in delta["rows"]] == [-2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2]
    for f in ("missing_patterns.png", "imputation_trace.png", "tipping_point.png"):
        assert (rep / "figures" / f).stat().st_size > 1000
    html = (rep / "report.html").read_text()
    assert "Multiple imputation" in html and "Tipping point" in html
