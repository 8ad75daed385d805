"""The typed slices give byte-identical rule parameters to the dict-valued plan (commit 4ab2d9e,
``tests/fixtures/plan_slices/make_expected.py``), and decode back to themselves."""

import copy
import json
from pathlib import Path

import pytest

from mlmpipe.paths import targets
from mlmpipe.plan import Plan, canonical_json
from mlmpipe.plan.multiverse import InfluenceSlice, SpecSlice, SummarySlice
from mlmpipe.plan.slices import (
    BootstrapBatchSlice,
    CenterSlice,
    CompareSlice,
    DeltaSlice,
    FetchSlice,
    FitSlice,
    MissingSlice,
    PredictionsSlice,
    ReportSlice,
    ValidateSlice,
)
from mlmpipe.plan.variants import influence_slice, spec_slice

FIXTURES = Path(__file__).parent / "fixtures" / "plan_slices"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())["plans"]


def _configs() -> dict[str, dict]:
    import sys

    sys.path.insert(0, str(FIXTURES))
    try:
        from make_expected import variants
    finally:
        sys.path.remove(str(FIXTURES))
    return variants()


CONFIGS = _configs()


@pytest.fixture(scope="module", params=sorted(EXPECTED))
def case(request):
    return Plan.from_config(copy.deepcopy(CONFIGS[request.param])), EXPECTED[request.param]


def test_hash_and_config_are_unchanged(case):
    plan, want = case
    assert plan.hash == want["hash"]
    assert canonical_json(plan.to_config()) == want["config"]
    assert targets(plan) == want["targets"]


def test_step_slices_are_byte_identical(case):
    plan, want = case
    assert plan.slice_fetch() == want["fetch"]
    assert plan.slice_validate() == want["validate"]
    assert plan.slice_missing() == want["missing"]
    assert plan.slice_center() == want["center"]
    assert plan.slice_compare() == want["compare"]
    assert plan.slice_report() == want["report"]
    assert plan.slice_predictions() == want["predictions"]
    for key, text in want["fit"].items():
        assert plan.slice_fit(*key.split("/")) == text
    if "delta" in want:
        assert plan.slice_delta() == want["delta"]
    assert [plan.slice_bootstrap_batch(b) for b in range(len(want["bootstrap_batch"]))] == want[
        "bootstrap_batch"
    ]


def test_sensitivity_parameters_are_byte_identical(case):
    plan, want = case
    if "sensitivity" not in want:
        assert not plan.sensitivity.enabled
        return
    sens, exp = plan.sensitivity, want["sensitivity"]
    assert list(sens.ids) == exp["ids"]
    assert sens.summary_slice().to_json() == exp["summary"]
    # A specification's job slice is no longer its own definition (the fixture's "specs" and
    # "influence", kept for the record) but the main steps' slices of its variant plan; the primary
    # specification's are the plan's own.
    primary = spec_slice(plan, sens.primary.id)
    assert primary.validate == plan.validate_slice()
    assert primary.center == plan.center_slice()
    if (primary.choices["missing"] == "listwise") != plan.missing.imputes:
        assert primary.missing == plan.missing_slice()
    if primary.choices["df"] == plan.estimation.df_method:
        assert primary.fit == plan.fit_slice(sens.model, plan.reporting_estimator)
    variant = plan.with_choices(**primary.choices)
    assert (primary.missing, primary.fit) == (
        variant.missing_slice(),
        variant.fit_slice(sens.model, variant.reporting_estimator),
    )
    assert canonical_json(primary.to_dict()) == primary.to_json()


def test_every_slice_round_trips(case):
    plan, _ = case
    slices = [
        (FetchSlice, plan.fetch_slice()),
        (ValidateSlice, plan.validate_slice()),
        (MissingSlice, plan.missing_slice()),
        (CenterSlice, plan.center_slice()),
        (CompareSlice, plan.compare_slice()),
        (ReportSlice, plan.report_slice()),
        (PredictionsSlice, plan.predictions_slice()),
        (DeltaSlice, plan.delta_slice()),
        (BootstrapBatchSlice, plan.bootstrap_batch_slice(0)),
    ] + [(FitSlice, plan.fit_slice(m, e)) for m in plan.model_names for e in plan.estimators]
    sens = plan.sensitivity
    if sens.enabled:
        slices += [(SpecSlice, spec_slice(plan, sid)) for sid in sens.ids]
        slices += [(InfluenceSlice, influence_slice(plan)), (SummarySlice, sens.summary_slice())]
    for cls, s in slices:
        text = s.to_json()
        back = cls.from_json(text)
        assert back == s, cls.__name__
        assert back.to_json() == text
        assert cls.decode(json.loads(text)) == s and cls.decode(s) is s
