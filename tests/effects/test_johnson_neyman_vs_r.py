"""Simple slopes and Johnson-Neyman bounds of a continuous cross-level moderator against R.

Reference: ``tests/fixtures/effects/johnson_neyman.json``, written by
``tests/fixtures/effects/make_johnson_neyman.R`` from lmer's ``fixef`` / ``vcov`` (tight nloptwrap
tolerances) and lmerTest's ``contest1D`` Satterthwaite df for HSB
``mAch ~ 1 + cses * meanses + (1 + cses | school)`` (cses, meanses: group-mean centring of ses).
R finds each bound with ``uniroot`` on ``|t(w)| = t_crit``; the library solves the quadratic, so the
two are independent computations of the same quantity.

Here ours is our own REML fit (not R's estimates): the slopes and bounds therefore carry both the
optimizer's and the formulas' agreement. Measured (relative): slopes <= 1e-8, SEs and t
2.3e-7, JN bounds 1.1e-7 and 5.3e-7, Satterthwaite df 1.4e-7, p 2.5e-5, logLik 1.1e-11 absolute.
Bars: fixed effects 1e-6 (cses:meanses measured 1.5e-7), slopes 1e-7; SEs, t, interval limits and JN bounds 2e-6; df and t_crit 1e-4 (lmerTest
differentiates numerically); p 1e-4. The bounds lie outside the observed range of meanses
(the slope is significant everywhere observed), so ``share_of_range_significant`` is 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mlmpipe
from mlmpipe.effects.interactions import interaction_analysis
from mlmpipe.record.capture import record_from_result

pytestmark = pytest.mark.reference

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "effects" / "johnson_neyman.json"
REL_SLOPE, REL, REL_DF = 1e-7, 2e-6, 1e-4


@pytest.fixture(scope="module")
def r():
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def entry(hsb, r):
    res = mlmpipe.fit(r["formula"], hsb, reml=True)
    (out,) = interaction_analysis(record_from_result(res), hsb)["interactions"]
    return res, out


def test_same_fit_as_r(entry, r):
    res, _ = entry
    assert res.loglik == pytest.approx(r["loglik"], abs=1e-6)
    est = dict(zip(res.model.fixed_names, res.beta, strict=True))
    for row in r["fixed"]:
        assert est[row["term"]] == pytest.approx(row["estimate"], rel=1e-6), row["term"]


def test_simple_slopes_match_r(entry, r):
    _, out = entry
    assert (out["focal"], out["moderator"], out["binary_moderator"]) == ("cses", "meanses", False)
    got = {s["moderator_value"]: s for s in out["simple_slopes"]}
    assert list(got) == [s["moderator_value"] for s in r["simple_slopes"]]
    for want in r["simple_slopes"]:
        mine = got[want["moderator_value"]]
        assert mine["w"] == pytest.approx(want["w"], rel=1e-12), want["moderator_value"]
        assert mine["slope"] == pytest.approx(want["slope"], rel=REL_SLOPE), want["moderator_value"]
        for key in ("se", "t", "ci_low", "ci_high"):
            assert mine[key] == pytest.approx(want[key], rel=REL), (want["moderator_value"], key)
        assert mine["df"] == pytest.approx(want["df"], rel=REL_DF), want["moderator_value"]
        assert mine["p"] == pytest.approx(want["p"], rel=1e-4), want["moderator_value"]


def test_johnson_neyman_bounds_match_r(entry, r):
    _, out = entry
    jn, want = out["johnson_neyman"], r["johnson_neyman"]
    assert jn["t_crit"] == pytest.approx(want["t_crit"], rel=REL_DF)
    assert jn["bounds"] == pytest.approx(want["bounds"], rel=REL)
    assert jn["observed_range"] == pytest.approx([r["moderator"]["min"], r["moderator"]["max"]])
    lo, hi = want["bounds"]
    assert jn["significant"] == f"inside [{lo:.4g}, {hi:.4g}]"
    assert jn["share_of_range_significant"] == 1.0  # both bounds outside the observed range
    assert lo < r["moderator"]["min"] and r["moderator"]["max"] < hi
