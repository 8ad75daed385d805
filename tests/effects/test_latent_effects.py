"""Latent-scale effect sizes of ordinal (cumulative-logit) fits, against numbers computed in R from
``ordinal::clmm`` estimates (tests/fixtures/ordinal_effects/make_ordinal_effects.R): given clmm's
own estimates, our ICC, Nakagawa R^2 and latent-standardized coefficients agree to rounding; the
measures without a latent-scale meaning are reported as skipped, with reasons, in the effects
artifact, the comparison and the report items."""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from mlmpipe.compare import compare_sequence
from mlmpipe.effects.latent import SKIPPED
from mlmpipe.effects.summary import effect_sizes, r2_table
from mlmpipe.record import FitRecord
from mlmpipe.report.effects_section import effects_items
from mlmpipe.report.executive import executive_summary
from mlmpipe.report.glmm_section import glmm_section
from mlmpipe.report.ordinal_section import threshold_table

FIX = json.loads(
    (
        Path(__file__).resolve().parents[1] / "fixtures/ordinal_effects/ordinal_effects.json"
    ).read_text()
)
R = FIX["models"]
NAMES = list(R)
FORMULAS = {
    "m0_null": "score ~ 1 + (1 | school)",
    "m1_gcse": "score ~ 1 + gcsecnt + (1 | school)",
    "m2_context": "score ~ 1 + gcsecnt + gender + meangcsescore + (1 | school)",
}


@cache
def data():
    from mlmpipe.data.example import load_chem97

    df = load_chem97()
    df["meangcsescore"] = df.groupby("school")["gcsescore"].transform("mean")
    return df


def fit_from_r(name: str) -> dict:
    """A pipeline fit record carrying clmm's estimates (SEs/CIs made up: not under test)."""
    r = R[name]
    fixed = []
    for term, b in (r["beta"] or {}).items():
        se = 0.1
        fixed.append(
            {
                "term": term,
                "estimate": b,
                "se": se,
                "z": b / se,
                "p": 0.01,
                "ci_low": b - 1.96 * se,
                "ci_high": b + 1.96 * se,
                "exp_estimate": math.exp(b),
                "exp_ci_low": math.exp(b - 1.96 * se),
                "exp_ci_high": math.exp(b + 1.96 * se),
            }
        )
    tau2 = r["tau2"]
    return {
        "model": name,
        "estimator": "ml",
        "formula": FORMULAS[name],
        "family": "ordinal",
        "link": "logit",
        "reml": False,
        "fixed": fixed,
        "thresholds": [{"term": k, "estimate": v, "se": 0.1} for k, v in r["thresholds"].items()],
        "random": [
            {
                "group": "school",
                "term1": "(Intercept)",
                "term2": None,
                "vcov": tau2,
                "sdcor": tau2**0.5,
            }
        ],
        "theta": [(tau2 / (np.pi**2 / 3)) ** 0.5],
        "loglik": r["logLik"],
        "icc_scale": "latent",
        "level1_variance": np.pi**2 / 3,
        "npar": len(fixed) + len(r["thresholds"]) + 1,
        "aic": -2 * r["logLik"] + 2 * (len(fixed) + len(r["thresholds"]) + 1),
        "bic": 0.0,
        "deviance": -2 * r["logLik"],
        "converged": True,
        "singular": False,
        "warnings": [],
    }


@cache
def es() -> dict:
    fits = {n: FitRecord.from_dict(fit_from_r(n)) for n in NAMES}
    return effect_sizes(NAMES, fits, data())


@pytest.mark.parametrize("name", NAMES)
def test_icc_and_nakagawa_r2_match_r(name):
    nk, r = es()["models"][name]["nakagawa"], R[name]
    assert nk["var_residual"] == pytest.approx(np.pi**2 / 3, rel=1e-12)
    for ours, theirs in [
        ("var_fixed", "var_fixed"),
        ("r2_marginal", "r2_marginal"),
        ("r2_conditional", "r2_conditional"),
        ("icc_adjusted", "icc_adjusted"),
    ]:
        assert nk[ours] == pytest.approx(r[theirs], rel=1e-9, abs=1e-12), ours
    assert es()["models"][name]["icc"]["school"] == pytest.approx(r["icc_adjusted"], rel=1e-12)


@pytest.mark.parametrize("name", ["m1_gcse", "m2_context"])
def test_latent_standardized_coefficients_match_r(name):
    ours = {row["term"]: row for row in es()["models"][name]["standardized"]}
    for r in R[name]["standardized"]:
        assert ours[r["term"]]["sd_x"] == pytest.approx(r["sd_x"], rel=1e-10)
        assert ours[r["term"]]["beta_latent"] == pytest.approx(r["beta_latent"], rel=1e-9)
    assert ours["meangcsescore"]["level"] == "between" if name == "m2_context" else True


@pytest.mark.parametrize("name", NAMES)
def test_performance_package_agrees(name):
    """performance::r2_nakagawa / icc on the clmm fits (0.10.2 handles clmm)."""
    perf = R[name]["performance"]
    assert "error" not in perf, perf
    nk = es()["models"][name]["nakagawa"]
    for key in ("r2_marginal", "r2_conditional", "icc_adjusted"):
        assert nk[key] == pytest.approx(perf[key], rel=1e-9, abs=1e-12), key


def test_linear_model_measures_are_skipped_with_reasons():
    e = es()
    assert "note" in e["icc_ci"] and "low" not in e["icc_ci"]
    assert e["scale"]["level1"] == pytest.approx(np.pi**2 / 3)
    for entry in e["models"].values():
        assert not {"snijders_bosker", "prv", "rights_sterba"} & set(entry)
        assert entry["skipped"] == SKIPPED
    table = r2_table(e)
    assert list(table.columns) == ["model", "ICC (adjusted)", "R2 marginal", "R2 conditional"]
    items = effects_items(e, "m2_context")
    text = "\n".join(o for k, o in items if k == "md")
    assert "latent scale" in text and "- not computed: Snijders & Bosker R² (" in text
    assert "- not computed: proportional reduction in variance (PRV) (" in text
    assert "### Rights & Sterba" not in text and all(k != "png" for k, _ in items)


def test_comparison_counts_thresholds_and_skips_prv():
    fits = {(n, "ml"): FitRecord.from_dict(fit_from_r(n)) for n in NAMES}
    models = [{"name": n, "label": n, "formula": FORMULAS[n]} for n in NAMES]
    comp = compare_sequence(models, fits)
    rows = {r["model"]: r for r in comp["models"]}
    assert rows["m0_null"]["ml"]["npar"] == 6  # 5 thresholds + the school variance
    assert rows["m1_gcse"]["test"]["df"] == 1 and rows["m2_context"]["test"]["df"] == 2
    lr = 2 * (R["m2_context"]["logLik"] - R["m1_gcse"]["logLik"])
    assert rows["m2_context"]["test"]["chisq"] == pytest.approx(lr, rel=1e-10)
    assert rows["m1_gcse"]["prv"] == {} and rows["m1_gcse"]["prv_note"] == SKIPPED["prv"]


def test_threshold_table_and_report_items():
    fit = FitRecord.from_dict(fit_from_r("m1_gcse"))
    t = threshold_table(fit)
    a = np.array(list(R["m1_gcse"]["thresholds"].values()))
    assert list(t["threshold"]) == ["0|2", "2|4", "4|6", "6|8", "8|10"]
    assert np.allclose(t["P(Y <= j) at x = 0, b = 0"], 1 / (1 + np.exp(-a)), rtol=1e-12)
    assert np.allclose(t["CI low"], a - 0.196, rtol=1e-9)
    items = glmm_section([FitRecord.from_dict(fit_from_r(n)) for n in NAMES], [])
    text = "\n".join(o for k, o in items if k == "md")
    assert "cumulative odds ratio" in text and "P(Y <= j) = F(alpha_j - x'beta - b)" in text
    assert "**m0_null**: logit link, no predictors." in text
    tables = [o for k, o in items if k == "table"]
    assert any("cumulative odds ratio" in t.columns for t in tables)


def test_executive_summary_speaks_of_the_latent_scale_and_cumulative_odds():
    spec = {
        "alpha": 0.05,
        "outcome": "score",
        "hypotheses": [],
        "models": [{"name": n} for n in NAMES],
    }
    recs = [FitRecord.from_dict(fit_from_r(n)) for n in NAMES]
    text = executive_summary(spec, recs, {}, es()).text
    assert "latent-scale variance of score" in text
    assert "As cumulative odds ratios: gcsecnt" in text
    assert "5 thresholds separate the 6 ordered categories" in text
    assert "Nakagawa, latent scale" in text


def test_fixed_table_of_a_thresholds_only_model_is_empty_with_its_columns():
    from mlmpipe.report.tables import fixed_table

    t = fixed_table(FitRecord.from_dict(fit_from_r("m0_null")))
    assert len(t) == 0 and list(t.columns) == [
        "term",
        "estimate",
        "se",
        "z",
        "p",
        "ci_low",
        "ci_high",
    ]
    assert list(fixed_table(FitRecord.from_dict(fit_from_r("m1_gcse")))["term"]) == ["gcsecnt"]
