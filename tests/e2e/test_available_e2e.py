"""The Gcsemv example with ``missing.method: available`` end to end: the null and gender models use
every student with a coursework score, the written-score model only those with a written score;
the comparison says why it has no LRT there, and the report says which rows each model used."""

import json

import pytest
import yaml

from tests.e2e.project import ROOT, run_plan


@pytest.mark.slow
@pytest.mark.e2e
def test_gcsemv_available_data_plan_end_to_end(tmp_path):
    cfg = yaml.safe_load((ROOT / "config/examples/gcsemv.yaml").read_text())
    cfg["missing"] = {"method": "available"}
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump(cfg, sort_keys=False))
    work = tmp_path / "project"
    work.mkdir()
    run_plan(work, str(plan))
    rep = work / "reports"
    missing = json.loads((rep / "missing.json").read_text())
    assert missing["method"] == "available" and missing["rows_analysed"] == [1725]
    assert missing["available"]["rows_complete"] == 1523
    nobs = {
        m: json.loads((rep / f"fits/{m}/reml/pooled.json").read_text())["nobs"]
        for m in ("m0_null", "m1_gender", "m2_written")
    }
    assert nobs == {"m0_null": 1725, "m1_gender": 1725, "m2_written": 1523}
    comp = json.loads((rep / "comparison.json").read_text())
    assert "p" in comp["models"][1]["test"]  # same rows: tested
    assert "fitted to different rows" in comp["models"][2]["test"]["note"]
    html = (rep / "report.html").read_text()
    assert "Available-data analysis" in html and "rows fitted" in html
