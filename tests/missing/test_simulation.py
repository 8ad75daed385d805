"""Simulation with known truth (mlmpipe.missing.simulation). The fast test checks the mechanics on
three replications; the slow one checks 95% coverage of the pooled fixed effects (MCAR and MAR),
within 92.5-97.5% over all fixed-effect intervals (4 terms x 60 replications = 240 intervals per
mechanism; Monte-Carlo SE of a coverage of 0.95 is 1.4 percentage points)."""

import pytest

from mlmpipe.missing.simulation import TRUTH, coverage_study, summarise


def test_simulation_mechanics():
    res = coverage_study(2, "mar", m=3, iterations=3, seed=5, J=20, n=8)
    s = summarise(res)
    assert set(s["method"]) == {"mi", "listwise"}
    assert set(s["term"]) == set(TRUTH) | {"ICC"}
    assert (s["reps"] == 2).all()


@pytest.mark.slow
@pytest.mark.parametrize("mechanism", ["mcar", "mar"])
def test_pooled_fixed_effects_cover_at_nominal_rate(mechanism):
    res = coverage_study(60, mechanism, m=10, iterations=10, seed=2024)
    mi = res[(res["method"] == "mi") & (res["term"] != "ICC")]
    coverage = mi["covered"].astype(float).mean()
    assert 0.925 <= coverage <= 0.975, summarise(res).to_string()
    s = summarise(res).set_index(["method", "term"])
    for term in TRUTH:  # no term's bias exceeds a quarter of its sampling SD
        assert abs(s.loc[("mi", term), "bias"]) < 0.25 * s.loc[("mi", term), "sd"] + 0.02
