"""Multiple-membership models against lme4 with the membership Zt supplied by hand (issue 14).

``tests/fixtures/membership/make_mm_fixtures.R`` builds lme4's model of ``(1 | school1)``, swaps
the term's Zt for the weighted membership matrix (days in each school / total days) and fits it
with mkLmerDevfun + optimizeLmer (REML, ML) and mkGlmerDevfun + optimizeGlmer (binomial, Laplace),
on the seeded simulated mobility data (``mlmpipe.data.mobility``: 3,000 students, 60 schools,
25% movers with 2-3 schools).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlmpipe
from mlmpipe.data.mobility import membership_long, simulate_mobility

HERE = Path(__file__).parents[1] / "fixtures" / "membership"
REF = json.loads((HERE / "mm_fits.json").read_text())
DATA = pd.read_csv(HERE / "mobility.csv")
MM = "(1 | mm(school1, school2, school3, weights = cbind(days1, days2, days3)))"

pytestmark = pytest.mark.reference


def _check(res, ref, tol_ll=1e-6, tol=1e-4, tol_se=1e-4):
    assert abs(res.loglik - ref["loglik"]) < tol_ll
    np.testing.assert_allclose(res.beta, list(ref["fixef"].values()), rtol=tol, atol=tol * 1e-2)
    se = np.sqrt(np.diag(res.vcov))
    np.testing.assert_allclose(se, list(ref["se"].values()), rtol=tol_se)
    np.testing.assert_allclose(res.theta, np.atleast_1d(ref["theta"]), rtol=tol)


@pytest.mark.parametrize("key, reml", [("lmm_reml", True), ("lmm_ml", False)])
def test_lmm_membership_matches_lme4_with_swapped_zt(key, reml):
    res = mlmpipe.fit(f"y ~ x + {MM}", DATA, reml=reml)
    _check(res, REF[key], tol_ll=1e-6)
    assert abs(res.loglik - REF[key]["loglik"]) < 1e-6


def test_binomial_membership_matches_glmer_with_swapped_zt():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = mlmpipe.fit(f"pass_ ~ x + {MM}", DATA, family="binomial")
    # the fixture uses tolPwrss = 1e-13 (lme4's default PIRLS tolerance moves its SEs by ~5e-4)
    _check(res, REF["glmm_binomial"])


def test_kenward_roger_runs_on_membership_and_is_near_satterthwaite():
    s = mlmpipe.fit(f"y ~ x + {MM}", DATA, df_method="satterthwaite")
    k = mlmpipe.fit(f"y ~ x + {MM}", DATA, df_method="kenward_roger")
    df_s = s.fixed_table()["df"].to_numpy()
    df_k = k.fixed_table()["df"].to_numpy()
    assert np.all(np.isfinite(df_k))
    np.testing.assert_allclose(df_k, df_s, rtol=0.05)
    assert 30 < df_s[0] < 60  # the intercept's df is of the order of the 60 schools


def test_generator_is_seeded_and_long_table_matches_wide():
    a, b = simulate_mobility(), simulate_mobility()
    pd.testing.assert_frame_equal(a, b)
    long = membership_long(a)
    assert long.groupby("student").size().max() == 3
    assert abs(a["school2"].notna().mean() - 0.25) < 0.03
    assert len(long) == int(a[["school1", "school2", "school3"]].notna().sum().sum())
