"""``mlmpipe power`` on config/examples/hsb_power.yaml: the pipeline's fit of the HSB final model
m4_cross as the pilot truth, the full final model simulated over the grid's school counts
(reports/power/simulation_model.csv) beside the closed forms (issue 17: pilot, final model)."""

from pathlib import Path

import pandas as pd
import pytest
import yaml

from mlmpipe import cli
from mlmpipe.data.example import load_example
from mlmpipe.engine.fit import fit_lmm
from mlmpipe.plan import Plan
from mlmpipe.power.section import load_power
from mlmpipe.record import load_record
from mlmpipe.record.capture import record_from_result
from tests.power.conftest import ROOT

PLAN = ROOT / "config" / "examples" / "hsb_power.yaml"


def _project(tmp_path: Path, **power) -> Path:
    """The example's pilot files, as the pipeline writes them: the centred data (cses, meanses)
    and the REML fit record of the final model; returns the plan path (``power`` keys replaced)."""
    cfg = yaml.safe_load(PLAN.read_text())
    cfg["power"].update(power)
    plan = Plan.from_config(cfg)
    d = load_example("hsb")
    means = d.groupby("school")["ses"].transform("mean")
    d = d.assign(cses=d["ses"] - means, meanses=means)
    data = tmp_path / cfg["power"]["pilot"]["data"]
    data.parent.mkdir(parents=True)
    d.to_parquet(data)
    formula = plan.model(plan.final_model).formula
    rec = record_from_result(
        fit_lmm(formula, d), model=plan.final_model, estimator="reml", planned_formula=formula
    )
    fit = tmp_path / cfg["power"]["pilot"]["fit"]
    fit.parent.mkdir(parents=True)
    rec.save(fit)
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def test_hsb_pilot_plan_simulates_the_final_model(tmp_path, monkeypatch):
    plan = _project(tmp_path, grid={"clusters": [10, 40], "cluster_size": [45]}, replications=12)
    monkeypatch.chdir(tmp_path)
    _, sec = load_power(plan)
    # closed forms from the pilot: the planned coefficient 1.0 over the pilot's total SD, with
    # tau00 = 1.796 and sigma = 5.973 (conditional on the final model's covariates)
    assert sec.pilot_coefficient == 1.0 and sec.cluster == "school"
    rec = load_record(tmp_path / "reports/fits/m4_cross/reml/imp0.json")
    total = rec.covariance_matrices()["school"][1][0, 0] + rec.sigma**2
    assert sec.effect == pytest.approx(1 / total**0.5, rel=1e-12)
    assert sec.params.rho2 == pytest.approx(0.0479, abs=5e-4)
    assert cli.main(["power", "--plan", str(plan), "--out", "out"]) == 0
    model = pd.read_csv(tmp_path / "out" / "simulation_model.csv")
    assert model["clusters"].tolist() == [10, 40]
    assert (model["term"] == "sectorCatholic").all()
    assert (model["replications"] == 12).all()
    assert (model["fitted"] + model["failed"] == 12).all()
    assert ((model["ci_low"] <= model["power"]) & (model["power"] <= model["ci_high"])).all()
    assert (tmp_path / "out" / "power_curve.png").stat().st_size > 10_000
    text = (tmp_path / "out" / "assumptions.md").read_text()
    assert "sector set to 1" in text and "whole clusters" in text


@pytest.mark.slow
def test_hsb_pilot_plan_as_shipped(tmp_path, monkeypatch):
    plan = _project(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["power", "--plan", str(plan), "--out", "out"]) == 0
    model = pd.read_csv(tmp_path / "out" / "simulation_model.csv")
    closed = pd.read_csv(tmp_path / "out" / "analytic.csv")
    assert model["power"].is_monotonic_increasing or model["power"].diff().min() > -0.1
    assert model["failed"].sum() == 0 and len(closed) == 8
