"""Each rung of the convergence ladder (mlmpipe.ladder) is the one that resolves a real fit.

The cases are real engine fits (no fake fit function): small simulated random-slope data sets
(``tests/fixtures/ladder/``, written by ``make_ladder_cases.py`` there, which says how they were
found) and sleepstudy with Days in seconds. In each, the registered model as fitted from lme4's
default start ends singular (or not converged), the default ladder climbs, and the named rung is
the first whose fit is free of the triggers. Where the rung is numerical (the model is unchanged),
its result is checked to be the model's best optimum (no worse than a multi-start search, 1e-6),
so "ok" means a better fit of the registered model, not just a flag that went away. The rescale
rung's estimates, transformed back to the data's units, equal a direct fit of the same model in an
equivalent parameterization (Days instead of seconds) to 1e-6.

The cases depend on where BOBYQA from the default start stops; if an engine change makes the planned
fit reach the better optimum, the first assertion of the case (the decisions) fails and names it, and
a new case must be found with ``tests/fixtures/ladder/make_ladder_cases.py``'s recipe.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlmpipe
from mlmpipe.ladder import fit_with_ladder
from tests.reference.datasets import load

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ladder"
SLOPE = "y ~ x + (1 + x | g)"
SECONDS = "Reaction ~ Seconds + (Seconds | Subject)"
DAY = 86400.0

pytestmark = pytest.mark.filterwarnings("ignore")


def case(name: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / f"{name}.csv")


def best_deviance(formula: str, data: pd.DataFrame, reml: bool) -> float:
    """The lowest criterion over fits from a grid of starts and all three optimizers."""
    out = []
    for a in (0.2, 1.0, 3.0):
        for r in (-0.5, 0.0, 0.5):
            for b in (0.2, 1.0, 3.0):
                res = mlmpipe.fit(formula, data, reml=reml, theta0=np.array([a, r, b]))
                out.append(res.to_dict()["deviance"])
    for opt in ("cobyqa", "nelder-mead"):
        out.append(mlmpipe.fit(formula, data, reml=reml, optimizer=opt).to_dict()["deviance"])
    return min(out)


def outcomes(lad) -> list[tuple[str, str]]:
    return [(d["rung"], d["outcome"]) for d in lad.decisions]


def check_numerical_rung(lad, data, reml, rung):
    assert lad.rung == rung and lad.resolved
    assert lad.formula == SLOPE  # a numerical rung keeps the registered model
    d = lad.result.to_dict()
    assert d["converged"] and not d["singular"]
    planned = lad.decisions[0]["deviance"]
    assert d["deviance"] < planned  # a better optimum than the default start's, not a relabelling
    assert d["deviance"] <= best_deviance(SLOPE, data, reml) + 1e-6


def test_restart_rung_resolves_a_boundary_local_optimum():
    data = case("restart")
    lad = fit_with_ladder(SLOPE, data, reml=True)
    assert outcomes(lad) == [
        ("as planned", "singular"),
        ("rescale", "singular"),
        ("restart", "ok"),
    ]
    check_numerical_rung(lad, data, True, "restart")
    assert lad.rescaled == {}  # the failed rescale was undone
    assert lad.decisions[0]["deviance"] - lad.result.to_dict()["deviance"] == pytest.approx(
        0.9444, abs=1e-3
    )


def test_optimizer_rung_resolves_what_restarting_bobyqa_does_not():
    data = case("optimizer")
    lad = fit_with_ladder(SLOPE, data, reml=False)
    assert outcomes(lad) == [
        ("as planned", "singular"),
        ("rescale", "singular"),
        ("restart", "singular"),
        ("optimizer", "ok"),
    ]
    assert lad.decisions[-1]["optimizer"] == "cobyqa"
    assert lad.result.to_dict()["optimizer"]["method"].startswith("COBYQA")
    check_numerical_rung(lad, data, False, "optimizer")


def test_uncorrelated_rung_resolves_a_correlation_on_the_boundary():
    data = case("uncorrelated")
    lad = fit_with_ladder(SLOPE, data, reml=True)
    assert outcomes(lad) == [
        ("as planned", "singular"),
        ("rescale", "singular"),
        ("restart", "singular"),
        ("optimizer", "singular"),
        ("uncorrelated", "ok"),
    ]
    assert lad.rung == "uncorrelated" and lad.resolved
    assert lad.formula == "y ~ x + (1 + x || g)"
    d = lad.result.to_dict()
    assert d["converged"] and not d["singular"]
    direct = mlmpipe.fit("y ~ x + (1 + x || g)", data, reml=True).to_dict()
    assert d["deviance"] == pytest.approx(direct["deviance"], abs=1e-9)
    assert not any(r["term2"] for r in d["random"])  # no covariance rows left


@pytest.fixture(scope="module")
def seconds():
    d = load("lme4::sleepstudy")
    d["Seconds"] = d["Days"] * DAY  # theta of the slope ~ 3e-6: flagged singular at lme4's 1e-4
    return d


@pytest.mark.parametrize("reml", [True, False], ids=["reml", "ml"])
def test_rescale_rung_resolves_and_back_transforms_to_a_direct_fit(seconds, reml):
    """Rescaling divides Seconds by its SD s; on the data's scale a coefficient of Seconds is the
    rescaled one / s, its random-slope SD and the intercept-slope covariance likewise / s (the
    correlation, sigma and the intercept are unchanged). ML deviances are equal; the REML
    criterion of the rescaled fit is lower by 2 log s (log det X'V^-1 X changes by -2 log s).
    The direct fit in Days is the same model (Seconds = 86400 Days), whose estimates / 86400 are
    per second. (The direct fit in seconds from the default start is what the ladder remedies:
    measured, it stops 0.86 above the optimum's REML criterion, flagged singular.)"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lad = fit_with_ladder(SECONDS, seconds, reml=reml)
        days = mlmpipe.fit("Reaction ~ Days + (Days | Subject)", seconds, reml=reml)
    assert outcomes(lad)[0][0] == "as planned" and outcomes(lad)[0][1] != "ok"
    assert outcomes(lad)[1] == ("rescale", "ok")
    assert lad.rung == "rescale" and lad.resolved and lad.formula == SECONDS
    s = lad.rescaled["Seconds"]
    assert s == pytest.approx(seconds["Seconds"].std(), rel=1e-15)
    res = lad.result
    back = np.array([1.0, 1.0 / s])
    assert res.beta * back == pytest.approx(days.beta / np.array([1.0, DAY]), rel=1e-6)
    se_r = res.fixed_table()["se"].to_numpy()
    se_d = days.fixed_table()["se"].to_numpy()
    assert se_r * back == pytest.approx(se_d / np.array([1.0, DAY]), rel=1e-6)

    def sdcor(r) -> dict:
        t = r.varcorr().fillna("")
        return {(a, b): sd for _g, a, b, _v, sd in t.itertuples(index=False)}

    got, want = sdcor(res), sdcor(days)
    assert got[("(Intercept)", "")] == pytest.approx(want[("(Intercept)", "")], rel=1e-6)
    assert got[("Seconds", "")] / s == pytest.approx(want[("Days", "")] / DAY, rel=1e-6)
    # the correlation (~0.08) sits on a flat part of the surface: absolute 1e-5
    assert got[("(Intercept)", "Seconds")] == pytest.approx(want[("(Intercept)", "Days")], abs=1e-5)
    assert res.sigma == pytest.approx(days.sigma, rel=1e-6)
    shift = -2 * np.log(s / DAY) if reml else 0.0  # rescaled vs Days: X columns differ by s / 86400
    assert res.to_dict()["deviance"] == pytest.approx(days.to_dict()["deviance"] + shift, abs=1e-6)
    assert res.loglik == pytest.approx(days.loglik - shift / 2, abs=1e-6)
