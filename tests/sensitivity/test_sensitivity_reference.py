"""The multiverse's mixed-model specifications against lme4/lmerTest (fixture made by
tests/fixtures/sensitivity/make_sensitivity_fixture.R with tight optimizer tolerances)."""

import json
from pathlib import Path

import pytest

from mlmpipe.plan.variants import spec_slice
from mlmpipe.sensitivity import run_specification

from .conftest import find_spec

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures/sensitivity/lmer_specs.json"
CASES = json.loads(FIXTURE.read_text())["specs"]


@pytest.mark.reference
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['random']}-{c['estimator']}")
def test_mixed_model_specification_matches_lmertest(example_plan, hsb, case):
    sens = example_plan.sensitivity
    spec = find_spec(sens, random=case["random"], estimator=case["estimator"])
    res = run_specification(hsb, spec_slice(example_plan, spec.id))
    assert res["status"] == "ok" and res["nobs"] == 7185
    row = next(r for r in res["fixed"] if r["term"] == "cses:sectorCatholic")
    assert row["estimate"] == pytest.approx(case["estimate"], rel=1e-6)
    assert row["se"] == pytest.approx(case["se"], rel=1e-5)
    assert row["df"] == pytest.approx(case["df"], rel=1e-4)
