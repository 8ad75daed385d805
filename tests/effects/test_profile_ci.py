"""Profile-likelihood intervals of all variance parameters (SDs, correlations, sigma) against lme4's
confint(method = "profile") (tests/fixtures/effects/make_profile_fixtures.R and the HSB null model
of make_effects_fixtures.R)."""

import json
from pathlib import Path

import numpy as np
import pytest

import mlmpipe
from mlmpipe.inference.profile import profile_intervals, profile_sequence
from mlmpipe.record import FitRecord
from mlmpipe.record.capture import record_from_result
from tests.effects.conftest import as_fit
from tests.reference.datasets import load

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "effects" / "profile_ci.json"


@pytest.fixture(scope="module")
def pfix():
    return json.loads(FIXTURE.read_text())


def _r_record(rfix: dict, name: str) -> FitRecord:
    """A REML record carrying R's estimates of model ``name`` of the HSB effect-size fixture (so the
    tests check the profile, not the optimizer), sigma from its residual row."""
    entry = rfix["models"][name]
    sigma = next(r["sdcor"] for r in entry["random"] if r["group"] == "Residual")
    return FitRecord.from_dict(as_fit(name, entry) | {"sigma": sigma})


def _data(case: dict, hsb):
    if case["data"] == "mlmRev::Hsb82":
        d = hsb.copy()
        d["sx"] = d["sx"].cat.reorder_categories(["Female", "Male"])
        return d
    return load(case["data"])


@pytest.mark.reference
def test_hsb_null_matches_lme4(rfix, hsb):
    fit = _r_record(rfix, "m0_null")
    got = {r["parameter"]: r for r in profile_intervals(fit, hsb)}
    want = {r["parameter"]: r for r in rfix["null"]["confint_profile"]}
    for name in ("sd_(Intercept)|school", "sigma"):
        assert got[name]["low"] == pytest.approx(want[name]["low"], rel=1e-5), name
        assert got[name]["high"] == pytest.approx(want[name]["high"], rel=1e-5), name


@pytest.mark.reference
@pytest.mark.parametrize(
    "name",
    [
        "sleepstudy_slope",
        "dyestuff2_zero",
        "hsb_m4_cross",
        pytest.param("hsb_slope", marks=pytest.mark.slow),
    ],
)
def test_slopes_correlations_and_bounds_match_lme4(pfix, hsb, name):
    case = pfix["cases"][name]
    data = _data(case, hsb)
    fit = record_from_result(mlmpipe.fit(case["formula"], data, reml=True))
    rows = profile_intervals(fit, data)
    got = {r["parameter"]: r for r in rows}
    exact = {r["parameter"]: r for r in case["confint_exact"]}
    default = {r["parameter"]: r for r in case["confint_default"]}
    assert [r["parameter"] for r in rows] == list(default)  # lme4's names and order
    for p, want in exact.items():
        # R's estimates come from refitML at lme4's default tolerances (same deviance to 1e-12,
        # sleepstudy's correlation 2e-5 relative away on the flat surface)
        assert got[p]["estimate"] == pytest.approx(want["estimate"], rel=1e-4, abs=1e-6), p
        for side in ("low", "high"):
            assert got[p][side] == pytest.approx(want[side], rel=1e-5, abs=1e-6), (p, side)
            # lme4's spline through its profile grid misses the roots, by up to 4e-3 relative
            # (hsb_slope, lower limit of the correlation: -0.56402 against the root -0.56176)
            assert got[p][side] == pytest.approx(default[p][side], rel=5e-3, abs=1e-4), (p, side)


def test_boundary_limits_are_flagged(pfix, hsb):
    case = pfix["cases"]["dyestuff2_zero"]
    data = load(case["data"])
    fit = record_from_result(mlmpipe.fit(case["formula"], data, reml=True))
    sd = profile_intervals(fit, data)[0]
    assert sd["estimate"] == 0.0 and sd["low"] == 0.0 and sd["low_at_bound"]
    assert 0 < sd["high"] < np.inf and not sd["high_at_bound"]


def test_reml_profile_is_wider_and_criterion_checked(rfix, hsb):
    fit = _r_record(rfix, "m0_null")
    ml = {r["parameter"]: r for r in profile_intervals(fit, hsb)}
    rl = {r["parameter"]: r for r in profile_intervals(fit, hsb, criterion="fit")}
    sd = "sd_(Intercept)|school"
    assert rl[sd]["high"] - rl[sd]["low"] > ml[sd]["high"] - ml[sd]["low"]
    assert "REML" in rl[sd]["method"] and "ML" in ml[sd]["method"]
    with pytest.raises(ValueError, match="criterion"):
        profile_intervals(fit, hsb, criterion="bayes")


def test_sequence_profiles_random_slope_models(pfix):
    case = pfix["cases"]["sleepstudy_slope"]
    data = load(case["data"])
    fits = {
        "m0": record_from_result(mlmpipe.fit("Reaction ~ Days + (1 | Subject)", data)),
        "m1": record_from_result(mlmpipe.fit(case["formula"], data)),
    }
    out = profile_sequence(["m0", "m1"], fits, data)
    assert out["skipped"] == {}
    assert [r["parameter"] for r in out["models"]["m1"]] == [
        "sd_(Intercept)|Subject",
        "cor_Days.(Intercept)|Subject",
        "sd_Days|Subject",
        "sigma",
    ]


def test_sequence_skips_glmms_with_the_reason():
    fits = {
        "g": FitRecord.from_dict(
            {"family": "binomial", "formula": "y ~ 1 + (1 | g)", "reml": False}
        )
    }
    out = profile_sequence(["g"], fits, None)
    assert out["models"] == {} and "binomial GLMM" in out["skipped"]["g"]
