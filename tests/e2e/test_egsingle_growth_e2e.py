"""The longitudinal example plan (config/examples/egsingle_growth.yaml: years in children in
schools, mlmRev egsingle) through the whole DAG: the residual-structure alternatives are fitted
with their structures, and the report's Method section and Appendix D compare them (AIC, BIC,
LRT vs the nested simpler structure; phi and SD ratios with CIs). Slow (~15 min on 2 busy
cores, most of it the leave-one-school-out influence refits of the AR(1) + varIdent model)."""

import json

import pytest

from tests.e2e.project import run_plan


@pytest.mark.slow
@pytest.mark.e2e
def test_egsingle_growth_report_compares_residual_structures(tmp_path):
    run_plan(tmp_path, "config/examples/egsingle_growth.yaml")
    fits = tmp_path / "reports/fits"
    ar1 = json.loads((fits / "m4_ar1/reml/pooled.json").read_text())
    both = json.loads((fits / "m7_ar1_hetvar/reml/pooled.json").read_text())
    indep = json.loads((fits / "m3_indep/reml/pooled.json").read_text())
    assert ar1["residual"]["correlation"] == "ar1" and 0.1 < ar1["residual"]["phi"] < 0.4
    assert sorted(both["residual"]["variance_ratios"]) == ["0", "1", "2", "3", "4", "5"]
    assert ar1["formula"] == indep["formula"] == both["formula"]  # one fixed and random part
    assert ar1["loglik"] > indep["loglik"] and both["aic"] < ar1["aic"]
    html = (tmp_path / "reports/report.html").read_text()
    assert "Level-1 residual structures (independent, AR(1) over wave, CAR(1) over year" in html
    assert "AIC favoured AR(1) over wave + varIdent by wave (m7_ar1_hetvar)" in html
    assert "<h3>Residual structures</h3>" in html and "SD ratio wave=5" in html
