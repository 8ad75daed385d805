"""run_plan: the bundled sleepstudy plan in-process, checked against lme4 and the artifact paths."""

import json
from pathlib import Path

import pytest

import mlmpipe
from mlmpipe.record import load_record

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT.parent / "shared" / "reference" / "lme4-public.json"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    plan = mlmpipe.load_plan(ROOT / "config/examples/sleepstudy.yaml")
    return mlmpipe.run_plan(plan, tmp_path_factory.mktemp("sleep"))


def test_run_plan_fits_match_lme4(run):
    if not REF.exists():
        pytest.skip("shared/reference/lme4-public.json is not beside the repository")
    cases = {c["id"]: c for c in json.loads(REF.read_text())["cases"]}
    for est, case in (("reml", "sleepstudy_rs_reml"), ("ml", "sleepstudy_rs_ml")):
        rec = run.fit("m2_slope", est)
        assert rec.loglik == pytest.approx(cases[case]["loglik"], abs=1e-6)
        want = {r["term"]: r["estimate"] for r in cases[case]["fixed"]}
        for r in rec.fixed:
            assert r.estimate == pytest.approx(want[r.term], rel=1e-6)


def test_run_plan_writes_the_pipeline_artifacts(run):
    w = run.workdir
    for p in (
        "reports/checks.json",
        "reports/missing.json",
        "reports/centering.json",
        "reports/comparison.json",
        "reports/effects.json",
        "reports/diagnostics/residuals.json",
        "reports/fits/m2_slope/reml/imp0.npz",
    ):
        assert (w / p).exists(), p
    stored = load_record(w / "reports/fits/m2_slope/reml/pooled.json")
    assert stored.to_dict() == run.fit("m2_slope").to_dict()
    assert stored.pooling.method == "identity" and stored.model == "m2_slope"
    assert [m["model"] for m in run.comparison["models"]] == ["m0_null", "m1_days", "m2_slope"]
    assert 0 < run.comparison["icc"]["values"]["Subject"] < 1
