"""Weighted pseudo-ML for logit/Poisson GLMMs by AGHQ (issue 16): integer weights are replication.

The fixture (``tests/fixtures/survey/make_survey_glmm_fixture.R``) is glmer's ML fit, with the
same nAGQ, of the data with each school copied ``w_school`` times (as new schools) and each student
``w_student`` times inside its school.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special

import mlmpipe
from mlmpipe.errors import MlmpipeError

HERE = Path(__file__).parents[1] / "fixtures" / "survey"
DATA = pd.read_csv(HERE / "survey_glmm.csv")
REF = json.loads((HERE / "survey_glmm_replication.json").read_text())
W = {"level1": "w_student", "school": "w_school"}
F = {"binomial": "ybin ~ x + z + (1 | school)", "poisson": "ycount ~ x + z + (1 | school)"}


def replicated(d: pd.DataFrame) -> pd.DataFrame:
    parts = []
    for s, ds in d.groupby("school"):
        ds = ds.loc[ds.index.repeat(ds.w_student)]
        parts += [ds.assign(cluster=f"{s}_{k}") for k in range(int(ds.w_school.iloc[0]))]
    return pd.concat(parts, ignore_index=True)


@pytest.mark.parametrize("family", ["binomial", "poisson"])
def test_integer_weights_equal_glmer_agq7_on_replicated_data(family):
    res = mlmpipe.fit(F[family], DATA, family=family, nagq=7, sampling_weights=W, reml=False)
    ref = REF[f"{family}_q7"]
    ll = res.pseudo_loglik
    if family == "poisson":  # glmer's nAGQ > 1 logLik omits the saturated log-likelihood
        y = DATA.ycount.to_numpy()
        sat = special.xlogy(y, y) - y - special.gammaln(y + 1)
        ll -= float((DATA.w_student * DATA.w_school * sat).sum())
    assert abs(ll - ref["loglik"]) < 1e-6
    np.testing.assert_allclose(res.beta, list(ref["fixef"].values()), atol=1e-4)
    assert abs(res.variances.iloc[0] - ref["var"]) < 1e-4
    # model-based SEs: the inverse pseudo-information equals glmer's Hessian-based vcov
    np.testing.assert_allclose(res.se_model.to_numpy()[:3], ref["se"], rtol=1e-4)
    assert res.nagq == 7 and res.family == family and res.converged


def test_laplace_equals_unweighted_glmm_on_replicated_data():
    res = mlmpipe.fit(F["binomial"], DATA, family="binomial", nagq=1, sampling_weights=W)
    ml = mlmpipe.fit("ybin ~ x + z + (1 | cluster)", replicated(DATA), family="binomial")
    assert abs(res.pseudo_loglik - ml.loglik) < 1e-6
    np.testing.assert_allclose(res.beta, ml.beta, atol=1e-5)


def test_sandwich_invariant_to_school_weight_scale_and_differs_from_model_se():
    a = mlmpipe.fit(F["binomial"], DATA, family="binomial", nagq=5, sampling_weights=W)
    b = mlmpipe.fit(
        F["binomial"],
        DATA.assign(w_school=DATA.w_school * 12.5),
        family="binomial",
        nagq=5,
        sampling_weights=W,
    )
    np.testing.assert_allclose(a.params, b.params, rtol=1e-5)
    np.testing.assert_allclose(a.se_robust, b.se_robust, rtol=1e-4)
    # replicated rows are not independent units: the sandwich SEs exceed the model-based ones
    assert np.all(a.se_robust.to_numpy()[:3] > a.se_model.to_numpy()[:3])


@pytest.mark.parametrize("scaling", ["size", "effective"])
def test_scaling_runs_and_changes_estimates(scaling):
    a = mlmpipe.fit(F["poisson"], DATA, family="poisson", nagq=3, sampling_weights=W)
    b = mlmpipe.fit(
        F["poisson"], DATA, family="poisson", nagq=3, sampling_weights=W, scaling=scaling
    )
    assert b.scaling == scaling and b.converged
    assert np.max(np.abs(a.params - b.params)) > 1e-4


def test_unsupported_link_and_random_slope_are_one_line_errors():
    with pytest.raises(MlmpipeError, match="link: 'probit'"):
        mlmpipe.fit(F["binomial"], DATA, family="binomial", link="probit", sampling_weights=W)
    with pytest.raises(MlmpipeError, match="one scalar random-effects term"):
        mlmpipe.fit("ybin ~ x + (1 + x | school)", DATA, family="binomial", sampling_weights=W)


def test_singular_fit_warns_and_leaves_the_variance_without_se():
    rng = np.random.default_rng(0)
    d = pd.DataFrame({"school": np.repeat(np.arange(40), 10), "x": rng.normal(size=400)})
    d["y"] = np.tile([0, 1], 200)  # every school 5 of 10: no between-school variation
    d["w2"] = np.repeat(rng.uniform(1, 5, 40), 10)
    with pytest.warns(Warning, match="singular"):
        r = mlmpipe.fit(
            "y ~ x + (1 | school)", d, family="binomial", nagq=5, sampling_weights={"school": "w2"}
        )
    assert r.optsum.singular and r.variances.iloc[0] == 0.0
    assert np.isnan(r.se_robust.iloc[2]) and np.all(np.isfinite(r.se_robust.to_numpy()[:2]))
