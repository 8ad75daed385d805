"""Pseudo-maximum likelihood with sampling weights (issue 16): integer weights are replication.

The fixture (``tests/fixtures/survey/make_survey_fixture.R``) is lme4's ML fit of the data with
each school copied ``w_school`` times (as new schools) and each student ``w_student`` times inside
its school; the weighted fit of the unexpanded data must reproduce it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlmpipe
from mlmpipe.errors import MlmpipeError

HERE = Path(__file__).parent / "fixtures" / "survey"
DATA = pd.read_csv(HERE / "survey_weights.csv")
REF = json.loads((HERE / "survey_replication.json").read_text())
W = {"level1": "w_student", "school": "w_school"}
FORMULAS = {"ri": "y ~ x + z + (1 | school)", "rs": "y ~ x + z + (1 + x | school)"}


@pytest.mark.parametrize("case", ["ri", "rs"])
def test_integer_weights_equal_lme4_on_replicated_data(case):
    res = mlmpipe.fit(FORMULAS[case], DATA, sampling_weights=W, reml=False)
    ref = REF[case]
    assert abs(res.pseudo_loglik - ref["loglik"]) < 1e-6
    np.testing.assert_allclose(res.beta, list(ref["fixef"].values()), rtol=1e-6, atol=1e-8)
    # lme4's VarCorr order: var(Intercept), var(x), cov, residual; ours lists cov before var(x)
    vc = np.asarray(ref["vc"])
    ours = res.variances.to_numpy()
    if case == "rs":
        ours = ours[[0, 2, 1, 3]]
    np.testing.assert_allclose(ours, vc, rtol=1e-6)


def test_unit_weights_equal_unweighted_ml():
    d = DATA.assign(one=1.0)
    res = mlmpipe.fit(
        FORMULAS["ri"], d, sampling_weights={"level1": "one", "school": "one"}, reml=False
    )
    ml = mlmpipe.fit(FORMULAS["ri"], d, reml=False, df_method="none")
    assert abs(res.pseudo_loglik - ml.loglik) < 1e-6
    np.testing.assert_allclose(res.beta, ml.beta, rtol=1e-7)
    np.testing.assert_allclose(res.se_model.to_numpy()[:3], np.sqrt(np.diag(ml.vcov)), rtol=1e-4)


def test_invariant_to_rescaling_school_weights():
    a = mlmpipe.fit(FORMULAS["rs"], DATA, sampling_weights=W, reml=False)
    b = mlmpipe.fit(
        FORMULAS["rs"], DATA.assign(w_school=DATA.w_school * 37.5), sampling_weights=W, reml=False
    )
    np.testing.assert_allclose(a.beta, b.beta, rtol=1e-6)
    np.testing.assert_allclose(a.variances, b.variances, rtol=1e-5)
    np.testing.assert_allclose(a.se_robust, b.se_robust, rtol=1e-5)


@pytest.mark.parametrize("scaling", ["size", "effective"])
def test_scaling_changes_level1_weights_only_within_schools(scaling):
    a = mlmpipe.fit(FORMULAS["ri"], DATA, sampling_weights=W, scaling=scaling, reml=False)
    # scaled weights are invariant to multiplying a school's student weights by a constant
    d = DATA.copy()
    d.loc[d.school == 3, "w_student"] *= 10
    b = mlmpipe.fit(FORMULAS["ri"], d, sampling_weights=W, scaling=scaling, reml=False)
    np.testing.assert_allclose(a.beta, b.beta, rtol=1e-6)
    none = mlmpipe.fit(FORMULAS["ri"], DATA, sampling_weights=W, reml=False)
    assert np.max(np.abs(none.beta - a.beta)) > 1e-4


def test_robust_se_near_model_se_when_model_true_and_unweighted():
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(300), 10)
    x = rng.normal(size=g.size)
    y = 1 + 0.5 * x + rng.normal(size=300)[g] + rng.normal(size=g.size)
    d = pd.DataFrame({"y": y, "x": x, "g": g, "one": 1.0})
    r = mlmpipe.fit(
        "y ~ x + (1 | g)", d, sampling_weights={"level1": "one", "g": "one"}, reml=False
    )
    ratio = r.se_robust.to_numpy()[:2] / r.se_model.to_numpy()[:2]
    assert np.all(np.abs(ratio - 1) < 0.1), ratio


def test_reml_is_refused():
    with pytest.raises(MlmpipeError, match="REML is not defined"):
        mlmpipe.fit(FORMULAS["ri"], DATA, sampling_weights=W, reml=True)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda d: d.assign(w_student=d.w_student.where(d.index != 4, -1.0)), "w_student"),
        (lambda d: d.assign(w_student=d.w_student.where(d.index != 4, np.nan)), "w_student"),
        (lambda d: d.assign(w_school=d.w_school.where(d.index != 0, 99)), "w_school"),
    ],
)
def test_bad_weights_are_one_line_errors(edit, match):
    with pytest.raises(MlmpipeError, match=match) as e:
        mlmpipe.fit(FORMULAS["ri"], edit(DATA), sampling_weights=W, reml=False)
    assert "\n" not in str(e.value)


def test_weight_key_must_be_a_grouping_factor():
    with pytest.raises(MlmpipeError, match="district"):
        mlmpipe.fit(FORMULAS["ri"], DATA, sampling_weights={"district": "w_school"}, reml=False)
