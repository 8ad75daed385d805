"""The three-level example's multiverse (students < schools < LEAs) through Snakemake: every
specification is the plan with some choices changed, run by the main steps; adding an option
afterwards plans only the new specifications and the summary. The default run takes one
specification per option (9); the full grid of 48 is marked slow."""

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import mlmpipe

ROOT = Path(__file__).resolve().parents[2]
PLAN = "config/examples/chem97_three_level.yaml"


def snakemake(workdir: Path, *args: str) -> str:
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", *args]
    res = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res.stdout + res.stderr


def job_counts(text: str) -> dict[str, int]:
    block = text.split("Job stats:", 1)[1].split("total", 1)[0]
    return {k: int(v) for k, v in re.findall(r"^([A-Za-z_]\w*)\s+(\d+)\s*$", block, flags=re.M)}


#: One specification per option besides the primary's (the subset fills the other dimensions with
#: their first option).
SUBSET = (
    "  subset: [{centering.gcsescore: grand}, {centering.gcsescore: none}, {random: intercept},\n"
    "    {random: uncorrelated}, {estimator: ml}, {outliers: drop_influential},\n"
    "    {method: ols_cluster}, {method: gee}]\n"
)


@pytest.mark.e2e
@pytest.mark.parametrize(
    "n", [9, pytest.param(48, marks=pytest.mark.slow)], ids=["one-per-option", "full-grid"]
)
def test_three_level_multiverse_runs_end_to_end_and_adds_only_new_specifications(tmp_path, n):
    shutil.copy2(ROOT / "Snakefile", tmp_path / "Snakefile")
    for name in ("workflow", "config"):
        shutil.copytree(ROOT / name, tmp_path / name)
    plan = tmp_path / "config/analysis.yaml"
    text = (ROOT / PLAN).read_text()
    if n == 9:
        text = text.replace("  dimensions:\n", SUBSET + "  dimensions:\n")
    plan.write_text(text)
    (tmp_path / "data" / "raw").mkdir(parents=True)
    t0 = time.perf_counter()
    snakemake(tmp_path, "reports/sensitivity/summary.json")
    print(f"{n} specifications in {time.perf_counter() - t0:.0f} s")
    s = json.loads((tmp_path / "reports/sensitivity/summary.json").read_text())
    for focal in ("cgcsescore", "genderF"):
        r = s["focal"][focal]
        assert (r["specifications"], r["estimated"], r["failed"]) == (n, n, 0)
        assert r["share_same_sign"] == 1.0
    table = pd.read_csv(tmp_path / "reports/tables/sensitivity.csv")
    assert set(table["status"]) == {"ok"}
    # the primary specification is the plan's own model: a direct three-level REML fit
    data = pd.read_parquet(tmp_path / "data/interim/clean.parquet")
    data["meangcsescore"] = data.groupby("school")["gcsescore"].transform("mean")
    data["cgcsescore"] = data["gcsescore"] - data["meangcsescore"]
    f = "score ~ 1 + cgcsescore + meangcsescore + gender + (1 | lea) + (1 + cgcsescore | school)"
    direct = mlmpipe.fit(f, data).fixed_table().set_index("term")
    primary = s["focal"]["cgcsescore"]["primary_estimate"]
    assert primary == pytest.approx(direct.loc["cgcsescore", "estimate"], rel=1e-10)
    # alternatives and influence work on the highest level: 20 LEAs
    spec_dir = tmp_path / "reports/sensitivity/specs"
    results = [json.loads(p.read_text()) for p in spec_dir.glob("*.json")]
    ols = [r for r in results if r["choices"]["method"] == "ols_cluster"]
    assert ols and all(r["nclusters"] in (19, 20) for r in ols)
    infl = json.loads((tmp_path / "reports/sensitivity/influence.json").read_text())
    assert len(infl["clusters"]) == 20
    # one more option: only its specifications (and the summary) are planned
    text = plan.read_text().replace("df: [satterthwaite]", "df: [satterthwaite, kenward_roger]")
    if n == 9:
        text = text.replace("{method: gee}]", "{method: gee}, {df: kenward_roger}]")
    plan.write_text(text)
    dry = snakemake(tmp_path, "-n", "reports/sensitivity/summary.json")
    new = 1 if n == 9 else 36  # 18 REML + Kenward-Roger, 18 ML + Kenward-Roger (failed: not REML)
    assert job_counts(dry) == {"sensitivity_spec": new, "sensitivity_summary": 1}
