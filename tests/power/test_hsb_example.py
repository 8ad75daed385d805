"""Done-when of issue 17: ``mlmpipe power`` on the bundled HSB plan with a power section
(config/examples/power_crt.yaml, unmodified) writes the curve and the tables. The minimum numbers
of schools were computed independently in base R (noncentral t, ``pt(..., ncp)``): with ICC 0.18
and effect 0.4, 54 / 46 / 42 schools of 10 / 20 / 40 students reach power 0.8 (53 / 45 / 41 do
not: 0.797, 0.797, 0.796); the cost-optimal school size is sqrt(1000/20 * 0.82/0.18) = 15.09."""

import json
import os
import subprocess

import pandas as pd
import pytest

from mlmpipe.power.run import FILES
from tests.power.conftest import EXAMPLE, ROOT


def test_mlmpipe_power_on_the_bundled_hsb_plan(tmp_path):
    out = tmp_path / "power"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    res = subprocess.run(
        ["mlmpipe", "power", "--plan", str(EXAMPLE), "--out", str(out), "--no-simulate"],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "cra2, cluster size 20: 46 clusters for power 0.8" in res.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    mins = pd.read_csv(out / "min_clusters.csv")
    assert mins["min_clusters"].tolist() == [54, 46, 42]
    closed = pd.read_csv(out / "analytic.csv")
    assert closed.shape[0] == 18  # 6 school counts x 3 school sizes
    assert closed["power"].is_monotonic_increasing is False  # one curve per school size
    for _, g in closed.groupby("cluster_size"):
        assert g["power"].is_monotonic_increasing and g["mdes"].is_monotonic_decreasing
    summary = json.loads((out / "power.json").read_text())
    assert summary["allocation"]["optimal_cluster_size"] == pytest.approx(15.092308563562, 1e-10)
    assert (out / "power_curve.png").stat().st_size > 10_000
    assert "sector" in (out / "assumptions.md").read_text()
