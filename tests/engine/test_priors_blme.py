"""Bayesian modal estimation: parity with R's blme (``blmer``, ``bglmer``; Chung et al. 2013).

Fixture: tests/fixtures/blme/blme_fits.json from make_blme_fixtures.R (blme 1.0-5, lme4 1.1-35).
Bars: theta, beta, SEs and sigma within 1e-4 relative (a floor of 1e-3 in the denominator for
values near 0); the penalised criterion within 1e-6 absolute. ``hsb10`` is the first 10 schools of
mlmRev's Hsb82 (in its level order), where lmer's random-slope fit is singular.
"""

from __future__ import annotations

import json
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from mlmpipe.data.example import load_example
from mlmpipe.engine.fit import fit_lmm
from mlmpipe.engine.glmm import fit_glmm
from tests.reference.datasets import load_raw, to_r_factors

pytestmark = pytest.mark.reference

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FIX = json.loads((FIXTURES / "blme" / "blme_fits.json").read_text(encoding="utf-8"))
CASES = {c["name"]: c for c in FIX["cases"]}
REL, OBJ_ABS = 1e-4, 1e-6

# blme's cov.prior text -> our prior spec
PRIORS = {
    "wishart": "blme",
    "gamma(shape = 2, rate = 0.5)": {"type": "gamma", "shape": 2, "rate": 0.5},
    "gamma(shape = 3, rate = 0.2, posterior.scale = 'var')": {
        "type": "gamma",
        "shape": 3,
        "rate": 0.2,
        "parameter": "var",
    },
    "invgamma": "invgamma",
    "invwishart": "invwishart",
    "wishart(df = 4, scale = diag(c(2, 0.5)))": {"type": "wishart", "df": 4, "scale": [2, 0.5]},
}
# blme's fixef.prior text -> our fixef prior
FIXEF = {
    "NULL": None,
    "normal": "normal",
    "normal(sd = c(3, 0.5))": {"type": "normal", "sd": [3, 0.5]},
    "normal(sd = c(3, 1))": {"type": "normal", "sd": [3, 1]},
}


def prior_of(c: dict) -> dict:
    return {"cov": PRIORS[c["cov_prior"]], "fixef": FIXEF[c["fixef_prior"]]}


@cache
def data(name: str):
    if name == "mlmRev::Contraception":
        levels = json.loads((FIXTURES / "glmm" / "glmm_fits.json").read_text("utf-8"))
        return to_r_factors(load_raw(name), levels["factor_levels"][name])
    hsb = load_example("hsb")
    if name == "hsb":
        return hsb
    ids = [int(s) for s in FIX["meta"]["hsb10_schools"]]
    out = hsb[hsb["school"].isin(ids)].reset_index(drop=True)
    if name == "hsb10_binary":  # the hsb_binary example's outcome
        out["proficient"] = (out["mAch"] >= 15).astype(int)
    return out


@cache
def fitted(name: str):
    c = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if c["kind"] == "glmm":
            r = fit_glmm(c["formula"], data(c["data"]), family=c["family"], prior=prior_of(c))
            crit = r.penalised_criterion
        else:
            r = fit_lmm(
                c["formula"],
                data(c["data"]),
                reml=c["reml"],
                prior=prior_of(c),
                df_method="none",
            )
            crit = r.penalised_criterion
    return r, crit


def rel_diff(ours, ref) -> float:
    a, b = np.atleast_1d(np.asarray(ours, float)), np.atleast_1d(np.asarray(ref, float))
    assert a.shape == b.shape
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-3)))


@pytest.mark.parametrize("name", list(CASES))
def test_estimates_match_blme(name):
    c = CASES[name]
    r, crit = fitted(name)
    assert list(r.model.fixed_names) == c["fixed_names"]
    assert rel_diff(r.theta, c["theta"]) < REL
    assert rel_diff(r.beta, c["beta"]) < REL
    assert rel_diff(np.sqrt(np.diag(r.vcov)), c["se"]) < REL
    assert rel_diff(r.sigma, c["sigma"]) < REL
    assert abs(crit - c["objective"]) < OBJ_ABS


@pytest.mark.parametrize("name", ["hsb10_slope_reml", "hsb10_slope_ml", "hsb10_binary_slope"])
def test_boundary_case_is_singular_under_ml_but_not_under_the_prior(name):
    c = CASES[name]
    assert c["lmer"]["singular"] and not c["singular"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if c["kind"] == "glmm":
            plain = fit_glmm(c["formula"], data(c["data"]), family=c["family"])
        else:
            plain = fit_lmm(c["formula"], data(c["data"]), reml=c["reml"], df_method="none")
    assert plain.singular
    r, _ = fitted(name)
    assert not r.singular
    assert r.theta[2] > 0.1  # the slope's SD (relative, or absolute for the GLMM) well off 0
