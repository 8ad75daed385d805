"""The sandwich of pseudo-ML (issue 16, item 4): the LMM's analytic per-cluster scores equal
numerical derivatives of the per-cluster pseudo-log-likelihood, so its sandwich equals a
numerical-derivative sandwich; the weighted GLMM's numerical scores sum to zero at the optimum."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import mlmpipe
from mlmpipe.engine.family import make_family
from mlmpipe.engine.numderiv import hessian, jacobian
from mlmpipe.engine.sandwich import cluster_sandwich
from mlmpipe.engine.survey import SurveyLmm, single_term
from mlmpipe.engine.survey_glmm import SurveyGlmm
from mlmpipe.engine.survey_scaling import survey_weights
from mlmpipe.formula import build_design

HERE = Path(__file__).parents[1] / "fixtures" / "survey"
W = {"level1": "w_student", "school": "w_school"}


def _parts(formula: str, data: pd.DataFrame, scaling: str):
    design = build_design(formula, data)
    re = single_term(design)
    sw = survey_weights(W, data, design.rows, [re.term.group], re.term.codes, re.m, scaling)
    return design, re, sw


def test_lmm_analytic_scores_and_sandwich_equal_numerical_ones():
    data = pd.read_csv(HERE / "survey_weights.csv").assign(w_student=lambda d: d.w_student * 0.7)
    f = "y ~ x + z + (1 + x | school)"
    res = mlmpipe.fit(f, data, sampling_weights=W, scaling="size")
    mod = SurveyLmm(*_parts(f, data, "size"))
    phi = res.params
    num = jacobian(mod.cluster_loglik, phi)
    np.testing.assert_allclose(mod.cluster_scores(phi), num, rtol=1e-6, atol=1e-7)
    H = hessian(lambda p: float(mod.w2 @ mod.cluster_loglik(p)), phi, d=1e-2, r=4)
    v = cluster_sandwich(mod.w2[:, None] * num, H)
    # second differences of l (not the analytic score) limit the agreement to ~4e-5
    np.testing.assert_allclose(res.se_robust.to_numpy(), np.sqrt(np.diag(v)), rtol=1e-4)


def test_glmm_total_score_vanishes_at_the_estimate():
    data = pd.read_csv(HERE / "survey_glmm.csv")
    f = "ybin ~ x + z + (1 | school)"
    res = mlmpipe.fit(f, data, family="binomial", nagq=5, sampling_weights=W, scaling="size")
    mod = SurveyGlmm(*_parts(f, data, "size"), make_family("binomial"), 5)
    scores = mod.w2[:, None] * jacobian(mod.cluster_loglik, res.params)
    total = scores.sum(axis=0)
    # relative to the spread of the cluster scores, the total is zero at a maximum
    assert np.all(np.abs(total) < 1e-4 * np.sqrt((scores**2).sum(axis=0)))
    assert abs(mod.pseudo_loglik(res.params) - res.pseudo_loglik) < 1e-9
