"""Categorical imputation against R's mice (polyreg) on data without a clustering effect.

Fixture and data: tests/fixtures/mi_categorical/make_mice_categorical_fixture.R. Our models are
latent-normal (probit) with a random intercept, mice's polyreg is a single-level multinomial logit;
with no clustering effect both target nearly the same imputation distribution, so pooled
regression estimates and category shares should agree within Monte-Carlo error plus a small
allowance for the probit/logit (and, unordered, independent-latent) model difference.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlmpipe.missing.mi_chained import ImputationSpec, impute_multilevel

FIX = Path(__file__).parents[1] / "fixtures" / "mi_categorical"
LV = ["low", "mid", "high"]
M = 25


@pytest.mark.reference
@pytest.mark.parametrize("key,var", [("unordered", "cu"), ("ordered", "co")])
def test_pooled_estimates_and_shares_agree_with_mice_polyreg(key, var):
    ref = json.loads((FIX / "mice_categorical.json").read_text())[key]
    d = pd.read_csv(FIX / "categorical_data.csv")[["cl", "y", "x", var]]
    d[var] = pd.Categorical(d[var], categories=LV)
    spec = ImputationSpec(
        outcome="y",
        cluster="cl",
        level1={"y": ("continuous", None), "x": ("continuous", None), var: ("categorical", LV)},
        level2={},
        ids=("cl",),
        m=M,
        iterations=10,
        seed=7,
        ordered=(var,) if key == "ordered" else (),
    )
    sets, _ = impute_multilevel(d, spec)
    est, share = [], []
    for s in sets:  # lm(y ~ x + [c == mid] + [c == high]) as in the R script
        X = np.column_stack([np.ones(len(s)), s.x, s[var] == "mid", s[var] == "high"])
        est.append(np.linalg.lstsq(X.astype(float), s.y.to_numpy(), rcond=None)[0])
        share.append(s[var].value_counts(normalize=True)[LV].to_numpy())
    est, share = np.array(est), np.array(share)
    mc = np.sqrt(est.var(0, ddof=1) / M + np.array(ref["between_sd"]) ** 2 / ref["m"])
    # measured (m = 50): largest |difference| 3.2 MC SDs (unordered 'mid'), i.e. 0.025 of a
    # coefficient whose SE is 0.10; allowance 0.02 for the model difference
    np.testing.assert_array_less(np.abs(est.mean(0) - ref["estimate"]), 4 * mc + 0.02)
    # shares against the ML plug-in expectation of the single-level logit model
    mcs = share.std(0, ddof=1) / np.sqrt(M)
    np.testing.assert_array_less(np.abs(share.mean(0) - ref["share_plugin"]), 4 * mcs + 0.005)
