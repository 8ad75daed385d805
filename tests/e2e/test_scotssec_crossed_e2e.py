"""The cross-classified example plan (config/examples/scotssec_crossed.yaml: mlmRev ScotsSec,
pupils in 148 primary x 19 secondary schools) through the whole DAG: the audit reports the
crossing in checks.json and the report, the fits match lme4 (tests/fixtures/scotssec, its R
script beside it). Slow (~3 min on 2 shared cores)."""

import json
from pathlib import Path

import pytest

from tests.e2e.project import run_plan

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures/scotssec/scotssec_fits.json"


@pytest.mark.slow
@pytest.mark.e2e
def test_scotssec_crossed_plan_runs_to_its_report_with_lme4_parity(tmp_path):
    run_plan(tmp_path, "config/examples/scotssec_crossed.yaml")
    checks = json.loads((tmp_path / "reports/checks.json").read_text())
    pair = next(p for p in checks["id_structure"] if {p["a"], p["b"]} == {"primary", "second"})
    assert pair["relation"] == "crossed" and pair["cells"] == 303
    ref = json.loads(FIXTURE.read_text())
    for est in ("reml", "ml"):
        fit = json.loads((tmp_path / f"reports/fits/m1_verbal_sex/{est}/pooled.json").read_text())
        assert fit["formula"].endswith("(1 | primary) + (1 | second)")
        got = {r["term"]: r for r in fit["fixed"]}
        for term, value in ref[est]["fixef"].items():
            assert got[term]["estimate"] == pytest.approx(value, abs=1e-4), (est, term)
            assert got[term]["se"] == pytest.approx(ref[est]["se"][term], abs=1e-4), (est, term)
        assert fit["loglik"] == pytest.approx(ref[est]["loglik"], abs=1e-6), est
    html = (tmp_path / "reports/report.html").read_text()
    assert "primary x second: crossed, 148 primary and 19 second clusters" in html
    assert "second IDs are crossed with primaries as declared" in html
    assert "by grouping factor: primary 0.118, second 0.039." in html  # VPC per classification
