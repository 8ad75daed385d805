"""The few-clusters example plan (config/examples/hsb10_bayes_modal.yaml, the first 10 HSB
schools) through the whole DAG: the random-slope model is singular under REML, the ladder's
bayes_modal rung keeps the slope, the kept fit is blmer's (tests/fixtures/blme, its R script
beside it) and the report's Method section says so. Slow (~40 s)."""

import json
from pathlib import Path

import pytest

from tests.e2e.project import run_plan

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures/blme/blme_fits.json"


@pytest.mark.slow
@pytest.mark.e2e
def test_singular_example_ends_at_the_bayes_modal_rung_with_its_structure(tmp_path):
    run_plan(tmp_path, "config/examples/hsb10_bayes_modal.yaml")
    ref = next(
        c for c in json.loads(FIXTURE.read_text())["cases"] if c["name"] == "hsb10_slope_reml"
    )
    fit = json.loads((tmp_path / "reports/fits/m2_slope/reml/pooled.json").read_text())
    assert fit["ladder"]["used_rung"] == "bayes_modal"
    assert fit["ladder"]["decisions"][0]["outcome"] == "singular"
    assert fit["formula"] == "mAch ~ 1 + ses + (1 + ses | school)"  # the slope is kept
    assert not fit["singular"]
    assert fit["prior_description"].startswith("every term: Wishart (df q + 2.5")
    got = {r["term"]: r for r in fit["fixed"]}
    for k, term in enumerate(ref["fixed_names"]):
        assert got[term]["estimate"] == pytest.approx(ref["beta"][k], rel=1e-4), term
        assert got[term]["se"] == pytest.approx(ref["se"][k], rel=1e-4), term
    assert fit["sigma"] == pytest.approx(ref["sigma"], rel=1e-4)
    html = (tmp_path / "reports/report.html").read_text()
    assert "Bayesian modal" in html and "Chung et al. 2013" in html
