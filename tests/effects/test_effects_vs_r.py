"""Effect sizes against R on HSB (tests/fixtures/effects/make_effects_fixtures.R): performance::icc,
performance::r2_nakagawa, Snijders & Bosker R^2 and Rights & Sterba values computed by hand in R,
the profile ICC interval and the design effect. Estimates are R's, so only the formulas are tested."""

import pytest

from mlmpipe.effects.icc_ci import icc_profile_ci
from mlmpipe.effects.parts import fit_parts
from mlmpipe.effects.r2 import nakagawa_r2, snijders_bosker_r2
from mlmpipe.effects.rights_sterba import SOURCES, decompose, r2_measures
from mlmpipe.effects.standardized import design_effect
from mlmpipe.effects.summary import effect_sizes, r2_table, rights_sterba_table

REL = 1e-6
MODELS = ["m0_null", "m1_level1", "m2_level2", "m3_slope", "m4_cross"]


@pytest.fixture(scope="module")
def parts(rrecs, hsb):
    return {m: fit_parts(rrecs[m], hsb) for m in MODELS}


def _close(a, b):
    return a == pytest.approx(b, rel=REL, abs=1e-12)


@pytest.mark.reference
@pytest.mark.parametrize("model", MODELS)
def test_nakagawa_and_icc_match_performance(parts, rfix, model):
    got = nakagawa_r2(parts[model])
    want = rfix["models"][model]["performance"]
    for key in ("icc_adjusted", "icc_conditional", "r2_marginal", "r2_conditional"):
        assert _close(got[key], want[key]), key


@pytest.mark.reference
@pytest.mark.parametrize("model", MODELS[1:])
def test_snijders_bosker(parts, rfix, model):
    got = snijders_bosker_r2(parts["m0_null"], parts[model], "school")
    want = rfix["models"][model]["snijders_bosker"]
    for key in ("cluster_size", "r2_level1", "r2_level2"):
        assert _close(got[key], want[key]), key


@pytest.mark.reference
@pytest.mark.parametrize("model", MODELS)
def test_rights_sterba_matches_hand_computation(parts, rfix, model):
    got = decompose(parts[model])
    want = rfix["models"][model]["rights_sterba"]
    for key in ("f1", "f2", "v", "m", "residual"):
        assert _close(got[key], want[key]), key
    shares = r2_measures(got)
    assert sum(shares["total"][k] for k in SOURCES) == pytest.approx(1.0)
    assert sum(shares["within"].values()) == pytest.approx(1.0)


@pytest.mark.reference
def test_icc_profile_interval_and_design_effect(rrecs, rfix, hsb, parts):
    ci = icc_profile_ci(rrecs["m0_null"], hsb)
    want = rfix["null"]["icc_profile"]
    for key in ("theta_low", "theta_high", "low", "high"):
        assert ci[key] == pytest.approx(want[key], rel=1e-6), key
    assert ci["low"] < ci["icc"] < ci["high"]
    de = design_effect(rfix["null"]["design_effect"]["icc"], parts["m0_null"].terms["school"][0])
    for key in ("mean_cluster_size", "design_effect", "n_effective"):
        assert de[key] == pytest.approx(rfix["null"]["design_effect"][key], rel=1e-9), key


def test_effect_sizes_sequence(rrecs, hsb):
    es = effect_sizes(MODELS, rrecs, hsb)
    assert list(es["models"]) == MODELS
    assert es["models"]["m0_null"]["nakagawa"]["r2_marginal"] == pytest.approx(0.0, abs=1e-12)
    std = {r["term"]: r for r in es["models"]["m4_cross"]["standardized"]}
    assert std["cses"]["level"] == "within" and std["meanses"]["level"] == "between"
    assert std["sectorCatholic"]["level"] == "between"
    assert std["cses:sectorCatholic"]["level"] == "within"
    # pseudo-standardization of a group-centred predictor: within SD over the null model's sigma
    assert std["cses"]["beta_pseudo"] == pytest.approx(
        std["cses"]["estimate"] * std["cses"]["sd_x_level"] / std["cses"]["sd_y_level"]
    )
    t = r2_table(es)
    assert list(t["model"]) == MODELS and (t["R2 marginal"].diff().iloc[1:3] > 0).all()
    rs = rights_sterba_table(es)
    assert set(rs["scope"]) == {"total", "within", "between"}


def test_fit_parts_names_mismatched_data(rrecs, hsb):
    from mlmpipe.errors import EstimationError
    from mlmpipe.record import FixedEffect

    bad = rrecs["m1_level1"].replace(fixed=(FixedEffect("nope", 1.0),))
    with pytest.raises(EstimationError, match="nope"):
        fit_parts(bad, hsb)
