"""Cross-level interactions: simple slopes vs lmerTest::contest1D on HSB, Johnson-Neyman bounds."""

import numpy as np
import pytest
from scipy import stats

import mlmpipe
from mlmpipe.effects.interactions import interaction_analysis, johnson_neyman
from mlmpipe.record.capture import record_from_result


@pytest.fixture(scope="module")
def hsb_interactions(rrecs, hsb):
    return interaction_analysis(rrecs["m4_cross"], hsb)


@pytest.mark.reference
def test_simple_slope_matches_lmertest(hsb_interactions, rfix):
    (entry,) = hsb_interactions["interactions"]
    assert (entry["focal"], entry["moderator"]) == ("cses", "sectorCatholic")
    assert entry["binary_moderator"] and entry["johnson_neyman"] is None
    cath = entry["simple_slopes"][1]
    want = rfix["simple_slope_catholic"]
    for key in ("slope", "se", "df", "t"):
        assert cath[key] == pytest.approx(want[key], rel=1e-4), key
    assert cath["p"] == pytest.approx(want["p"], rel=1e-3)
    public = entry["simple_slopes"][0]
    b = {f["term"]: f["estimate"] for f in rfix["models"]["m4_cross"]["fixed"]}
    assert public["slope"] == pytest.approx(b["cses"], rel=1e-5)
    assert len(entry["lines"]) == 2 and len(entry["lines"][0]["x"]) == 41


def test_johnson_neyman_bounds_are_where_t_equals_critical():
    b1, b3 = 0.4, 0.9
    V = np.array([[0.04, -0.01], [-0.01, 0.09]])
    tcrit = stats.t.ppf(0.975, 60)
    jn = johnson_neyman(b1, b3, V, tcrit, (-3.0, 3.0))
    assert len(jn["bounds"]) == 2
    for w in jn["bounds"]:
        se = np.sqrt(V[0, 0] + 2 * w * V[0, 1] + w * w * V[1, 1])
        assert abs(b1 + b3 * w) / se == pytest.approx(tcrit, rel=1e-9)
    lo, hi = jn["bounds"]
    mid = 0.5 * (lo + hi)
    se_mid = np.sqrt(V[0, 0] + 2 * mid * V[0, 1] + mid * mid * V[1, 1])
    assert abs(b1 + b3 * mid) / se_mid < tcrit  # the slope is not significant between the bounds
    assert jn["significant"].startswith("outside")


def test_continuous_moderator_gets_jn_and_curve(hsb):
    res = mlmpipe.fit("mAch ~ 1 + cses * meanses + (1 + cses | school)", hsb)
    fit = record_from_result(res)
    (entry,) = interaction_analysis(fit, hsb)["interactions"]
    assert entry["moderator"] == "meanses" and not entry["binary_moderator"]
    assert [s["moderator_value"] for s in entry["simple_slopes"]] == [
        "mean - 1 SD",
        "mean",
        "mean + 1 SD",
    ]
    assert 0 <= entry["johnson_neyman"]["share_of_range_significant"] <= 1
    assert len(entry["slope_curve"]["w"]) == 61
