"""A new user's path on a three-level SPSS file: ``mlmpipe init --data schools.sav``, one hypothesis
added to the starter plan, ``mlmpipe run``; the report is manuscript first, free of notebook
artefacts, shows the value labels and treats both -99 codes as missing (the one declared
user-missing in the file and the undeclared one the starter plan lists in data.missing_codes).
About 35 s alone on two cores, so slow-marked."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlmpipe.cli import main
from tests.fixtures.realworld.three_level_sav import write_schools_sav
from tests.report.artefacts import artefacts, visible

SRC = Path(__file__).resolve().parents[2] / "src"
HEADINGS = [
    "Executive summary",
    "Preregistered hypotheses",
    "Method",
    "Tables for the manuscript (APA 7)",
    "Key figures",
    "Appendices",
    "Appendix A. Data structure and checks",
    "Appendix B. Missing data",
    "Appendix C. Estimation decision log",
    "Appendix G. Provenance, preregistration and reproducibility",
]


@pytest.mark.slow  # 35 s alone, 150 s on the shared 2 cores; in .ci/run
def test_init_data_then_run_gives_a_clean_labelled_report(tmp_path):
    sav = tmp_path / "schools.sav"
    write_schools_sav(sav)
    proj = tmp_path / "proj"
    assert main(["init", str(proj), "--data", str(sav)]) == 0
    plan_path = proj / "config/analysis.yaml"
    text = plan_path.read_text()
    assert "missing_codes: {ses: [-99]}" in text  # the undeclared code, commented as a guess
    plan = yaml.safe_load(text)
    assert [lv["id"] for lv in plan["levels"]] == ["student", "class", "school"]
    plan["hypotheses"] = [
        {
            "name": "H1",
            "text": "Students with higher SES score higher",
            "model": "m1_student",
            "parameter": "cses",
            "direction": "positive",
        }
    ]
    plan_path.write_text(yaml.safe_dump(plan, sort_keys=False))
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    res = subprocess.run(
        [sys.executable, "-m", "mlmpipe.cli", "run", "--cores", "2"],
        cwd=proj,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert "mlmpipe: done in" in out and "reports/report.html" in out
    html = (proj / "reports/report.html").read_text(encoding="utf-8")
    assert artefacts(html) == []
    plain = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", visible(html)))
    plain = plain.replace("&lt;", "<").replace("&gt;", ">")
    h2 = [
        re.sub(r"<[^>]+>", "", h).strip(" \n\u00b6")
        for h in re.findall(r"<h2\b[^>]*>(.*?)</h2>", html, re.S)
    ]
    assert [h for h in h2 if h in HEADINGS] == HEADINGS, h2  # manuscript first, then the detail
    for bad in ("NaN", "classs", "'-99.0'", "`"):
        assert bad not in plain, bad
    manuscript = plain[: plain.rindex("Appendix A. Data structure")]
    for raw in ("sexm", "trackgeneral", "sectorprivate"):
        assert raw not in manuscript, raw  # model-matrix names only in the appendices' detail
    for label in ("sex: m", "track: general", "track: vocational", "sector: private"):
        assert label in plain, label  # value labels, not codes, in Tables 2 and 4
    assert "ses: 3 x -99" in plain  # data.missing_codes, listed in the data checks
    assert "motiv: 4 x -99" in plain  # SPSS user-missing, listed in the data checks
    assert "blank answers set to missing: sex: 3 blank" in plain
    assert "deleted listwise (10 of 450 rows)" in plain  # 3 + 4 + 3 rows: every code is missing
    assert "p < .001: supported" in plain
