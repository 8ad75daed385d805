"""The longitudinal example plan (config/examples/sleepstudy.yaml) through the whole DAG: the fits
against lme4/lmerTest (tests/fixtures/sleepstudy/, with its R script), the trajectory and
spaghetti figures as files and in the report, and the DOCX. Slow (~2-4 min)."""

import json
import zipfile
from pathlib import Path

import pytest

from tests.e2e.project import run_plan

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures/sleepstudy/sleepstudy_lmer.json"


@pytest.mark.slow
@pytest.mark.e2e
def test_sleepstudy_plan_runs_end_to_end(tmp_path):
    run_plan(tmp_path, "config/examples/sleepstudy.yaml")
    ref = json.loads(FIXTURE.read_text())
    for model in ("m0_null", "m1_days", "m2_slope"):
        fit = json.loads((tmp_path / f"reports/fits/{model}/reml/pooled.json").read_text())
        got = {r["term"]: r for r in fit["fixed"]}
        for term, want in ref[model]["fixed"].items():
            for key in ("estimate", "se", "df"):
                assert got[term][key] == pytest.approx(want[key], rel=1e-3), (model, term, key)
        vc = {
            " ".join(x for x in (r["group"], r["term1"], r["term2"]) if x): r["vcov"]
            for r in fit["random"]
        }
        for name, want in ref[model]["vcov"].items():
            assert vc[name] == pytest.approx(want, rel=1e-3), (model, name)
    figs = {p.name for p in (tmp_path / "reports/figures/model").iterdir()}
    for name in ("variance_partition", "spaghetti_Days", "trajectories"):
        assert {f"{name}.png", f"{name}.svg"} <= figs, name
    html = (tmp_path / "reports/report.html").read_text()
    for heading in (
        "Executive summary",
        "Preregistered hypotheses: 1 of 1 supported",
        "Variance partition across the model sequence",
        "Random slopes and trajectories",
        "Individual trajectories",
    ):
        assert heading in html, heading
    with zipfile.ZipFile(tmp_path / "reports/report.docx") as z:
        body = z.read("word/document.xml").decode()
        media = [n for n in z.namelist() if n.startswith("word/media/")]
    assert "Executive summary" in body and "Random slopes and trajectories" in body
    assert len(media) >= 5  # the report's figures are embedded in the DOCX
