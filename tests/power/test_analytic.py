"""Closed forms against base-R values (tests/fixtures/power/make_power_reference.R: qt, pt with
ncp) and against published constants (Bloom 1995 / 2006: the multiplier 2.80 for a two-tailed
test at 0.05 with power 0.80 and many df; Raudenbush 1997's optimal cluster size)."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlmpipe.errors import PlanError
from mlmpipe.power import analytic
from mlmpipe.power.analytic import DesignParams

REF = pd.read_csv(Path(__file__).parents[1] / "fixtures" / "power" / "analytic_reference.csv")


def _params(r) -> DesignParams:
    return DesignParams(
        r.design, rho2=r.rho2, rho3=r.rho3, omega2=r.omega2, omega3=r.omega3, p=r.P,
        r2_1=r.R1, r2_2=r.R2, r2_3=r.R3, r2_t2=r.RT2, r2_t3=r.RT3, g=int(r.g),
    )  # fmt: skip


@pytest.mark.parametrize(
    "i", range(len(REF)), ids=list(REF["design"] + "_" + REF.index.astype(str))
)
def test_closed_forms_match_base_r(i):
    r = REF.iloc[i]
    d = _params(r)
    args = (r.n, r.J, r.K)
    assert analytic.degrees_of_freedom(d, *args) == r.df
    assert analytic.standard_error(d, *args) == pytest.approx(r.se, rel=1e-12)
    assert analytic.mdes(d, *args, alpha=r.alpha, target=r.target) == pytest.approx(
        r.mdes, rel=1e-10
    )
    assert analytic.mdes(d, *args, alpha=r.alpha, target=r.target, exact=True) == pytest.approx(
        r.mdes_exact, rel=1e-8
    )
    assert analytic.power(d, r.es, *args, alpha=r.alpha) == pytest.approx(r.power, rel=1e-9)


def test_multiplier_is_blooms_2_8_for_many_df():
    # Bloom (2006, "The core analytics of randomized experiments"): M = 2.80 for large df
    assert analytic.multiplier(1e7) == pytest.approx(1.959964 + 0.841621, abs=1e-5)
    assert round(analytic.multiplier(1e7), 2) == 2.80
    # fewer df: a larger multiplier (Bloom's table: about 2.9 at 20 df, 3.0 at 12)
    assert 2.9 < analytic.multiplier(20) < 3.0 < analytic.multiplier(10)


def test_mdes_has_the_target_power():
    d = DesignParams("cra3", rho2=0.1, rho3=0.05, r2_1=0.3)
    e = analytic.mdes(d, 20, 3, 30, exact=True)
    assert analytic.power(d, e, 20, 3, 30) == pytest.approx(0.8, abs=1e-9)
    # PowerUp!'s multiplier MDES gives power close to (and above) the target
    assert analytic.power(d, analytic.mdes(d, 20, 3, 30), 20, 3, 30) == pytest.approx(0.8, abs=2e-3)


@pytest.mark.parametrize(
    "d, J",
    [
        (DesignParams("cra2", rho2=0.2), None),
        (DesignParams("bcra3", rho2=0.15, rho3=0.05, omega3=0.5), 4),
    ],
)
def test_min_clusters_is_the_smallest_reaching_the_target(d, J):
    m = analytic.min_clusters(d, 0.3, 20, J)
    if J is None:
        assert analytic.power(d, 0.3, 20, m) >= 0.8 > analytic.power(d, 0.3, 20, m - 1)
    else:
        assert analytic.power(d, 0.3, 20, J, m) >= 0.8 > analytic.power(d, 0.3, 20, J, m - 1)


def test_optimal_allocation_minimises_the_variance_at_fixed_budget():
    # Raudenbush (1997): n* = sqrt(c_cluster / c_unit * (1 - rho) / rho); with rho = 0.2 and a
    # cost ratio of 25, n* = sqrt(25 * 4) = 10
    assert analytic.optimal_allocation(0.2, 500, 20) == pytest.approx(10.0)
    rho, c2, c1, r1, r2 = 0.12, 800.0, 15.0, 0.4, 0.5
    n_opt = analytic.optimal_allocation(rho, c2, c1, r1, r2)
    budget = 1e5
    d = DesignParams("cra2", rho2=rho, r2_1=r1, r2_2=r2)
    ns = np.linspace(2, 100, 4000)
    var = [analytic.standard_error(d, n, budget / (c2 + n * c1)) ** 2 for n in ns]
    assert ns[int(np.argmin(var))] == pytest.approx(n_opt, abs=0.05)


def test_bad_design_parameters_stop_naming_the_key():
    with pytest.raises(PlanError, match=r"^power\.rho2: 1\.0 must be in \[0, 1\)$"):
        DesignParams("cra2", rho2=1.0)
    with pytest.raises(PlanError, match="power.p_treated"):
        DesignParams("cra2", rho2=0.1, p=0.0)
    with pytest.raises(PlanError, match="degrees of freedom"):
        analytic.standard_error(DesignParams("cra2", rho2=0.1, g=1), 20, 3)
    with pytest.raises(PlanError, match="power.design"):
        DesignParams("crt9", rho2=0.1)


def test_power_is_alpha_at_zero_effect_and_one_tailed_is_larger():
    d = DesignParams("cra2", rho2=0.2)
    assert analytic.power(d, 0.0, 20, 30) == pytest.approx(0.05, abs=1e-12)
    assert analytic.power(d, 0.3, 20, 30, two_tailed=False) > analytic.power(d, 0.3, 20, 30)
    assert math.isclose(analytic.power(d, 0.0, 20, 30, two_tailed=False), 0.05, abs_tol=1e-12)
