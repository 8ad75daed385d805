"""Standardized coefficients against parameters::standardize_parameters (method "basic" and
"pseudo") on HSB (tests/fixtures/effects/make_standardized_fixtures.R). R's estimates and null-model
SDs are used, so only the formulas are tested."""

import json
from pathlib import Path

import pytest

from mlmpipe.effects.parts import fit_parts
from mlmpipe.effects.standardized import standardized_coefficients

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "effects" / "standardized.json"


@pytest.fixture(scope="module")
def sfix():
    return json.loads(FIXTURE.read_text())


@pytest.mark.reference
@pytest.mark.parametrize("model", ["m2_level2", "m4_cross"])
def test_basic_and_pseudo_match_parameters(sfix, rfits, rrecs, hsb, model):
    entry = sfix["models"][model]
    fit = rfits[model]  # the same tight REML fit, with its variance components (hsb_effects.json)
    want_beta = [f["estimate"] for f in entry["fixed"]]
    assert [f["estimate"] for f in fit["fixed"]] == pytest.approx(want_beta, rel=1e-7)
    parts = fit_parts(rrecs[model], hsb)
    null = sfix["null_default"]  # parameters fits the null model with lme4's defaults
    rows = standardized_coefficients(parts, null["sigma"] ** 2, null["tau"] ** 2, "school")
    got = {r["term"]: r for r in rows}
    basic = {r["term"]: r["std"] for r in entry["basic"] if r["term"] != "(Intercept)"}
    pseudo = {r["term"]: r["std"] for r in entry["pseudo"] if r["term"] != "(Intercept)"}
    assert set(got) == set(basic) == set(pseudo)
    for term, want in basic.items():
        assert got[term]["beta_basic"] == pytest.approx(want, rel=1e-6), term
    for term, want in pseudo.items():
        assert got[term]["beta_pseudo"] == pytest.approx(want, rel=1e-6), term
    levels = {t: r["level"] for t, r in got.items()}
    within = ["cses", "minrtyYes", "sxMale"] + (
        ["cses:sectorCatholic"] if model == "m4_cross" else []
    )
    assert {levels[t] for t in within} == {"within"}
    assert levels["meanses"] == levels["sectorCatholic"] == "between"
