"""Profile-likelihood intervals of SDs vs lme4's confint(method = "profile") on the HSB null model."""

import pytest

from mlmpipe.inference.profile import profile_sd_intervals


@pytest.mark.reference
def test_profile_intervals_match_lme4(rfits, rfix, hsb):
    fit = dict(rfits["m0_null"])
    fit["sigma"] = next(r["sdcor"] for r in fit["random"] if r["group"] == "Residual")
    got = {r["parameter"]: r for r in profile_sd_intervals(fit, hsb)}
    want = {r["parameter"]: r for r in rfix["null"]["confint_profile"]}
    for name in ("sd_(Intercept)|school", "sigma"):
        assert got[name]["low"] == pytest.approx(want[name]["low"], rel=1e-5), name
        assert got[name]["high"] == pytest.approx(want[name]["high"], rel=1e-5), name


def test_reml_profile_is_wider_and_criterion_checked(rfits, hsb):
    fit = dict(rfits["m0_null"])
    fit["sigma"] = next(r["sdcor"] for r in fit["random"] if r["group"] == "Residual")
    ml = {r["parameter"]: r for r in profile_sd_intervals(fit, hsb)}
    rl = {r["parameter"]: r for r in profile_sd_intervals(fit, hsb, criterion="fit")}
    sd = "sd_(Intercept)|school"
    assert rl[sd]["high"] - rl[sd]["low"] > ml[sd]["high"] - ml[sd]["low"]
    assert "REML" in rl[sd]["method"] and "ML" in ml[sd]["method"]
    with pytest.raises(ValueError, match="criterion"):
        profile_sd_intervals(fit, hsb, criterion="bayes")
