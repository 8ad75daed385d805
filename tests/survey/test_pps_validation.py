"""The informative PPS population/sample generator and the pseudo-ML simulation of
validation/survey/ (issue 16, item 4)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

DIR = Path(__file__).resolve().parents[2] / "validation" / "survey"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, DIR / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


pop_mod = _load("population")


def test_generator_is_seeded_informative_and_weights_are_inverse_probabilities():
    d = pop_mod.Design()
    rng = np.random.default_rng(3)
    pop = pop_mod.population(rng, d)
    s = pop_mod.sample(rng, pop, d)
    assert pop.school.nunique() == d.n_pop_schools
    assert 30 <= s.school.nunique() <= 100
    # the school weight is constant within a school; both weights are >= 1 (probabilities <= 1)
    assert (s.groupby("school").w_school.nunique() == 1).all()
    assert (s.w_school >= 1).all() and (s.w_student >= 1).all()
    # informative: the sample over-represents high outcomes; the Horvitz-Thompson-weighted mean
    # is near the population mean
    w = s.w_school * s.w_student
    assert s.y.mean() - pop.y.mean() > 0.3
    assert abs(np.average(s.y, weights=w) - pop.y.mean()) < 0.15
    # the same seed gives the same sample
    r1 = np.random.default_rng(9)
    r2 = np.random.default_rng(9)
    a = pop_mod.sample(r1, pop_mod.population(r1, d), d)
    b = pop_mod.sample(r2, pop_mod.population(r2, d), d)
    assert a.equals(b)


@pytest.mark.slow
def test_small_simulation_weighting_removes_the_unweighted_bias():
    sim = _load("pps_simulation")
    tab = sim.summarise(sim.study(reps=20, seed=5)).set_index(["term", "method"])
    bias = tab["bias"]
    # the two effects whose unweighted bias is many Monte-Carlo SEs at 20 replications
    for term in ("(Intercept)", "x"):
        assert abs(bias[term, "none"]) < 0.5 * abs(bias[term, "unweighted"])
    assert bias["(Intercept)", "unweighted"] > 0.3
    assert tab.loc[("x", "size"), "coverage_%"] > 70
