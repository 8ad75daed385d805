"""Plan key report.time_variable (longitudinal plans) and the sleepstudy example plan."""

from pathlib import Path

import pytest
import yaml

from mlmpipe.errors import PlanError
from mlmpipe.plan import Plan, load_plan

ROOT = Path(__file__).resolve().parents[1]


def test_sleepstudy_example_plan():
    plan = load_plan(ROOT / "config/examples/sleepstudy.yaml")
    assert plan.report["time_variable"] == "Days"
    assert plan.models[-1].formula == "Reaction ~ 1 + Days + (1 + Days | Subject)"
    assert load_plan(ROOT / "config/analysis.yaml").report["time_variable"] is None


@pytest.mark.parametrize("name", ["Dayz", "sector", "minrty"])
def test_time_variable_must_be_a_continuous_level1_predictor(name):
    cfg = yaml.safe_load((ROOT / "config/analysis.yaml").read_text())
    cfg["report"]["time_variable"] = name
    with pytest.raises(PlanError, match=rf"^report.time_variable: '{name}' is not a continuous"):
        Plan.from_config(cfg)
