"""The multiple-membership example plan (config/examples/mobility_mm.yaml: the seeded mobility
data, 3,000 students in 60 schools, a quarter attending 2-3 schools) through the whole DAG: the
membership is checked and summarised in checks.json, the level's grouping becomes the days-
weighted mm() term, and the REML fit matches lme4 with the membership Zt swapped in by hand
(tests/fixtures/membership, its R script beside it). Slow (~3 min on 2 shared cores)."""

import json
from pathlib import Path

import pytest

from tests.e2e.project import run_plan

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures/membership/mm_fits.json"


@pytest.mark.slow
@pytest.mark.e2e
def test_mobility_membership_plan_runs_to_its_report_with_lme4_parity(tmp_path):
    run_plan(tmp_path, "config/examples/mobility_mm.yaml")
    checks = json.loads((tmp_path / "reports/checks.json").read_text())
    line = next(c for c in checks["checks"] if c["name"] == "membership")
    assert line["details"]["units"] == 3000 and line["details"]["clusters"] == 60
    ref = json.loads(FIXTURE.read_text())
    for est, key in (("reml", "lmm_reml"), ("ml", "lmm_ml")):
        fit = json.loads((tmp_path / f"reports/fits/m1_x/{est}/pooled.json").read_text())
        assert fit["formula"] == f"y ~ 1 + x + {ref['formula']}"
        got = {r["term"]: r for r in fit["fixed"]}
        for term, value in ref[key]["fixef"].items():
            assert got[term]["estimate"] == pytest.approx(value, abs=1e-4), (est, term)
            assert got[term]["se"] == pytest.approx(ref[key]["se"][term], abs=1e-4), (est, term)
        assert fit["loglik"] == pytest.approx(ref[key]["loglik"], abs=1e-6), est
    assert (tmp_path / "reports/report.html").exists()
