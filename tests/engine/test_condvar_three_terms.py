"""Conditional variances of a three-term nested model (LEA intercept, school intercept and
uncorrelated school slope on Chem97): the sparse path of engine.condvar against the dense formula
sigma^2 Lambda (Lambda'Z'Z Lambda + I)^{-1} Lambda' (lme4's condVar). The CSR product of two earlier
terms used to reach a reshape that only BSR/dense operands support."""

from __future__ import annotations

import numpy as np

from mlmpipe.data.example import load_example
from mlmpipe.engine.fit import fit_design
from mlmpipe.formula import build_design
from mlmpipe.record.capture import record_from_result
from tests.engine.dense import dense_Z_Lambda


def test_condvar_of_three_nested_terms_equals_the_dense_formula():
    d = load_example("chem97")
    d["m"] = d.groupby("school")["gcsescore"].transform("mean")
    d["c"] = d["gcsescore"] - d["m"]
    f = "score ~ 1 + c + gender + m + (1 | lea) + (1 + c || school)"
    res = fit_design(build_design(f, d), reml=True, df_method="none")
    model = res.model
    Z, Lam = dense_Z_Lambda(model, res.theta)
    ZL = Z @ Lam
    C = res.sigma**2 * Lam @ np.linalg.inv(ZL.T @ ZL + np.eye(ZL.shape[1])) @ Lam.T
    cv = res.condvar()
    k = 0
    for i in model.order:
        r = model.reterms[i]
        blocks = np.array(
            [
                C[k + l * r.q : k + (l + 1) * r.q, k + l * r.q : k + (l + 1) * r.q]
                for l in range(r.m)
            ]
        )
        np.testing.assert_allclose(cv[r.name], blocks, rtol=1e-7, atol=1e-12)
        k += r.nranef
    assert len(cv) == 3
    record_from_result(res)  # the fit record (conditional SDs included) is built
