"""``mlmpipe power`` and the Snakemake ``power`` target write the same tables and curve."""

import shutil
import subprocess
import sys

import pandas as pd
import pytest

from mlmpipe import cli
from mlmpipe.power import analytic
from mlmpipe.power.run import FILES
from mlmpipe.power.section import load_power
from tests.power.conftest import ROOT

SMALL = {
    "grid": {"clusters": [10, 24], "cluster_size": [10]},
    "replications": 16,
    "batches": 2,
}


def test_mlmpipe_power_writes_tables_curve_and_assumptions(write_plan, tmp_path, capsys):
    plan = write_plan(**SMALL)
    out = tmp_path / "power"
    assert cli.main(["power", "--plan", str(plan), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    _, sec = load_power(plan)
    sim = pd.read_csv(out / "simulation.csv")
    assert list(sim["clusters"]) == [10, 24] and (sim["replications"] == 16).all()
    assert (sim["fitted"] + sim["failed"] == 16).all()
    assert ((sim["ci_low"] <= sim["power"]) & (sim["power"] <= sim["ci_high"])).all()
    closed = pd.read_csv(out / "analytic.csv")
    want = [analytic.power(sec.params, 0.4, 10, J) for J in (10, 24)]
    assert closed["power"].tolist() == pytest.approx(want)
    m = analytic.min_clusters(sec.params, 0.4, 10)
    assert f"cluster size 10: {m} clusters for power 0.8" in capsys.readouterr().out
    assert (out / "power_curve.png").read_bytes()[:4] == b"\x89PNG"
    text = (out / "assumptions.md").read_text()
    assert "two-level cluster-randomised" in text and "Raudenbush 1997" in text


def test_mlmpipe_power_closed_forms_only(write_plan, tmp_path):
    out = tmp_path / "power"
    assert cli.main(["power", "--plan", str(write_plan()), "--out", str(out), "--no-simulate"]) == 0
    assert pd.read_csv(out / "analytic.csv").shape[0] == 18
    assert (out / "simulation.csv").read_text().strip() == ""


def test_mlmpipe_power_bad_input_is_one_line_naming_the_key(write_plan, tmp_path, capsys):
    plan = write_plan(term="treatment")
    assert cli.main(["power", "--plan", str(plan), "--out", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mlmpipe: PlanError: power.term: 'treatment'") and "\n" not in err


@pytest.mark.slow
@pytest.mark.e2e
def test_snakemake_power_target_matches_the_command(write_plan, tmp_path):
    plan = write_plan(**SMALL)
    proj = tmp_path / "proj"
    proj.mkdir()
    shutil.copy2(ROOT / "Snakefile", proj / "Snakefile")
    shutil.copytree(ROOT / "workflow", proj / "workflow")
    shutil.copytree(ROOT / "config", proj / "config")
    shutil.copy2(plan, proj / "config/analysis.yaml")
    res = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", "power"],
        cwd=proj,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert cli.main(["power", "--plan", str(plan), "--out", str(tmp_path / "cli")]) == 0
    a = pd.read_csv(proj / "reports/power/simulation.csv").drop(columns="seconds_per_replicate")
    b = pd.read_csv(tmp_path / "cli/simulation.csv").drop(columns="seconds_per_replicate")
    pd.testing.assert_frame_equal(a, b)
    assert len(list((proj / "reports/power/batches").glob("batch*.json"))) == 2


def test_three_level_design_runs_end_to_end(write_plan, tmp_path):
    plan = write_plan(
        design="bcra3",
        icc={"level2": 0.1, "level3": 0.1},
        omega={"level3": 0.5},
        grid={"clusters": [6, 10], "cluster_size": [5], "subclusters": [2, 4]},
        replications=3,
        batches=1,
        ladder=False,
        cost=None,
    )
    out = tmp_path / "power"
    assert cli.main(["power", "--plan", str(plan), "--out", str(out)]) == 0
    sim = pd.read_csv(out / "simulation.csv")
    assert sim[["clusters", "subclusters"]].values.tolist() == [[6, 2], [10, 2], [6, 4], [10, 4]]
    assert (sim["fitted"] + sim["failed"] == 3).all()
    mins = pd.read_csv(out / "min_clusters.csv")
    _, sec = load_power(plan)
    assert mins["min_clusters"].tolist() == [
        analytic.min_clusters(sec.params, sec.effect, 5, s) for s in (2, 4)
    ]
    assert "level-3 blocks" in (out / "assumptions.md").read_text()
