"""Simulation power with the engine: reproducible seeds, agreement with the closed forms within
Monte-Carlo error, the Type I error of the small-sample tests, LRT for a slope variance, and the
bookkeeping of failures and singular fits (issue 17, items 3 and 5). Fast versions by default;
the full ones are marked slow."""

import numpy as np
import pytest

from mlmpipe.errors import PlanError
from mlmpipe.power import analytic
from mlmpipe.power.analytic import DesignParams
from mlmpipe.power.simulate import draw, layout, run_batch, summarise


def test_batches_are_reproducible_and_distinct():
    d = DesignParams("cra2", rho2=0.2)
    a = run_batch(d, 0.3, 10, 12, reps=30, seed=5, cell=2, batch=1)
    b = run_batch(d, 0.3, 10, 12, reps=30, seed=5, cell=2, batch=1)
    lay = layout(d, 0.3, 10, 12)
    y1 = draw(lay, 3, np.random.default_rng([5, 2, 1]))
    y2 = draw(lay, 3, np.random.default_rng([5, 2, 2]))
    assert {k: a[k] for k in ("rejected", "failed", "singular")} == {
        k: b[k] for k in ("rejected", "failed", "singular")
    }
    assert not np.allclose(y1, y2)


def test_draw_has_the_stated_variance_components():
    # the truth's variance shares: level 2 rho2 (1 - R2), residual (1 - rho2)(1 - R1)
    d = DesignParams("cra2", rho2=0.25, r2_1=0.4)
    lay = layout(d, 0.0, 5, 400)
    y = draw(lay, 40, np.random.default_rng(1)) - lay.mean_x @ lay.beta
    codes = lay.groups[0][0]
    means = np.stack([np.bincount(codes, w) / 5 for w in y])
    within = y - means[:, codes]
    assert within.var() * 5 / 4 == pytest.approx(0.75 * 0.6, rel=0.03)
    assert means.var() - within.var() * 5 / 4 / 5 == pytest.approx(0.25, rel=0.05)


def _agrees(d, es, n, J, K=1, reps=150, seed=11, test="satterthwaite"):
    s = summarise([run_batch(d, es, n, J, K, test, reps, seed=seed)])
    a = analytic.power(d, es, n, J, K)
    assert abs(s["power"] - a) < 3 * max(s["mc_se"], 0.01), (s, a)
    return s, a


@pytest.mark.parametrize(
    "d, es, n, J, K",
    [
        (DesignParams("cra2", rho2=0.2), 0.5, 20, 30, 1),
        (DesignParams("cra2", rho2=0.15, r2_1=0.5, r2_2=0.5, g=1), 0.35, 20, 24, 1),
        (DesignParams("cra3", rho2=0.1, rho3=0.1), 0.4, 10, 3, 24),
    ],
    ids=["cra2", "cra2_covariates", "cra3"],
)
def test_simulated_power_agrees_with_closed_form_fast(d, es, n, J, K):
    _agrees(d, es, n, J, K)


@pytest.mark.slow
@pytest.mark.parametrize(
    "d, es, n, J, K",
    [
        (DesignParams("cra2", rho2=0.2), 0.5, 20, 30, 1),
        (DesignParams("cra2", rho2=0.15, r2_1=0.5, r2_2=0.5, g=1), 0.35, 20, 24, 1),
        (DesignParams("cra3", rho2=0.1, rho3=0.1), 0.4, 10, 3, 24),
        (DesignParams("bira2", rho2=0.2, omega2=1.0), 0.25, 20, 30, 1),
    ],
    ids=["cra2", "cra2_covariates", "cra3", "bira2"],
)
def test_simulated_power_agrees_with_closed_form_full(d, es, n, J, K):
    _agrees(d, es, n, J, K, reps=1000, seed=13)


def test_type_one_error_small_sample_fast():
    # 15 schools of 20 under the null: the KR t test holds its level (fast: a binomial 99.9% band)
    d = DesignParams("cra2", rho2=0.2)
    s = summarise([run_batch(d, 0.0, 20, 15, 1, "kenward_roger", 300, seed=17)])
    assert 0.01 <= s["power"] <= 0.10


@pytest.mark.slow
def test_type_one_error_kenward_roger_15_clusters_full():
    """Issue 17: KR Type I error with 15 clusters within 4-6%; Satterthwaite beside it, and the
    Wald z test liberal (measured 2,000 replications: KR 5.0%, Satterthwaite 5.0%, z 7.3%)."""
    d = DesignParams("cra2", rho2=0.2)
    rates = {
        t: summarise([run_batch(d, 0.0, 20, 15, 1, t, 2000, seed=17)])["power"]
        for t in ("kenward_roger", "satterthwaite", "wald")
    }
    assert 0.04 <= rates["kenward_roger"] <= 0.06
    assert 0.04 <= rates["satterthwaite"] <= 0.06
    assert rates["wald"] > rates["kenward_roger"] + 0.01


def test_lrt_for_a_slope_variance_holds_level_and_has_power():
    null = DesignParams("bira2", rho2=0.2, omega2=0.0)
    alt = DesignParams("bira2", rho2=0.2, omega2=1.5)
    s0 = summarise([run_batch(null, 0.2, 20, 30, 1, "lrt", 120, seed=3)])
    s1 = summarise([run_batch(alt, 0.2, 20, 30, 1, "lrt", 60, seed=3)])
    assert s0["power"] <= 0.05 + 3 * 0.02  # the chi-bar-square mixture: at most about alpha
    assert s1["power"] > 0.8


def test_singular_fits_are_counted_and_bad_cells_raise():
    # no treatment-effect variance: the (1 + treat || l2) fits are often singular
    b = run_batch(DesignParams("bira2", rho2=0.2, omega2=0.0), 0.2, 10, 12, reps=40, seed=2)
    assert b["singular"] > 0 and b["failed"] == 0 and b["reps"] == 40
    with pytest.raises(PlanError, match="lrt tests a treatment-slope variance"):
        layout(DesignParams("cra2", rho2=0.2), 0.2, 10, 12, test="lrt")
    with pytest.raises(PlanError, match="has no simulation"):
        layout(DesignParams("bira2f", rho2=0.2), 0.2, 10, 12)


def test_summarise_pools_batches_and_gives_wilson_interval():
    batches = [
        {"reps": 50, "failed": 2, "rejected": 24},
        {"reps": 50, "failed": 0, "rejected": 26},
    ]
    s = summarise(batches)
    assert s["fitted"] == 98 and s["power"] == pytest.approx(50 / 98)
    assert s["mc_se"] == pytest.approx(np.sqrt(50 / 98 * 48 / 98 / 98))
    assert s["ci_low"] < s["power"] < s["ci_high"]
    assert s["ci_high"] - s["ci_low"] == pytest.approx(2 * 1.96 * s["mc_se"], rel=0.02)


def test_mcar_outcomes_are_dropped_and_cost_power():
    # 30% of students missing at random: power close to the closed form at n = 0.7 x 20 = 14,
    # below the complete-data power
    d = DesignParams("cra2", rho2=0.1)
    full = analytic.power(d, 0.4, 20, 24)
    thin = analytic.power(d, 0.4, 14, 24)
    s = summarise([run_batch(d, 0.4, 20, 24, reps=150, seed=21, mcar=0.3)])
    assert abs(s["power"] - thin) < 3 * s["mc_se"] and full - thin > 0.05
    with pytest.raises(PlanError, match="power.mcar"):
        run_batch(d, 0.4, 20, 24, reps=1, mcar=1.0)


def test_plan_ladder_repairs_singular_replicates():
    # no treatment-effect variance: singular (1 + treat || l2) fits climb the plan's ladder
    from mlmpipe.ladder import Ladder

    d = DesignParams("bira2", rho2=0.2, omega2=0.0)
    plain = run_batch(d, 0.2, 10, 12, reps=12, seed=2)
    climbed = run_batch(d, 0.2, 10, 12, reps=12, seed=2, ladder=Ladder())
    assert plain["ladder"] == 0 and climbed["singular"] == plain["singular"] > 0
    assert climbed["ladder"] + climbed["unresolved"] >= climbed["singular"] > 0
    assert climbed["failed"] == 0


def test_type_one_error_satterthwaite_and_wald_fast():
    # the same 300 null data sets (15 schools of 20): Satterthwaite's t holds its level within a
    # binomial 99.9% band; the Wald z test uses the same SE with a normal reference, so it rejects
    # whenever the t test does (measured: Satterthwaite 7.0%, z 8.0% at seed 17)
    d = DesignParams("cra2", rho2=0.2)
    s = run_batch(d, 0.0, 20, 15, 1, "satterthwaite", 300, seed=17)
    z = run_batch(d, 0.0, 20, 15, 1, "wald", 300, seed=17)
    assert 0.01 <= s["rejected"] / 300 <= 0.11
    assert z["rejected"] >= s["rejected"]


def test_lrt_of_a_variance_uses_the_chi_bar_square_fast():
    # H0: no treatment-slope variance (on the boundary). The statistic's null law is the 50:50
    # mixture of chi2(0) and chi2(1) (Self & Liang 1987): p = P(chi2_1 > T) / 2. The naive
    # chi2(1) p-value is twice that, so its rejections at 0.05 are the mixture's at 0.025.
    # Measured (300 replicates, 30 sites of 20): mixture 5.7%, naive chi2(1) 2.3% (conservative).
    d = DesignParams("bira2", rho2=0.2, omega2=0.0)
    mix = summarise([run_batch(d, 0.2, 20, 30, 1, "lrt", 300, alpha=0.05, seed=31)])
    naive = summarise([run_batch(d, 0.2, 20, 30, 1, "lrt", 300, alpha=0.025, seed=31)])
    assert 0.02 <= mix["power"] <= 0.10
    assert naive["power"] < mix["power"] and naive["power"] <= 0.045


@pytest.mark.slow
def test_lrt_of_a_variance_type_one_error_full():
    """2,000 null replicates: the chi-bar-square LRT within 3.5-6.5%, the naive chi2(1) below."""
    d = DesignParams("bira2", rho2=0.2, omega2=0.0)
    mix = summarise([run_batch(d, 0.2, 20, 30, 1, "lrt", 2000, alpha=0.05, seed=37)])
    naive = summarise([run_batch(d, 0.2, 20, 30, 1, "lrt", 2000, alpha=0.025, seed=37)])
    assert 0.035 <= mix["power"] <= 0.065
    assert naive["power"] < 0.035
