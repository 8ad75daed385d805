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
from tests.engine.dense import dense_condvar_blocks


def test_condvar_of_three_nested_terms_equals_the_dense_formula():
    d = load_example("chem97")
    d["m"] = d.groupby("school")["gcsescore"].transform("mean")
    d["c"] = d["gcsescore"] - d["m"]
    f = "score ~ 1 + c + gender + m + (1 | lea) + (1 + c || school)"
    res = fit_design(build_design(f, d), reml=True, df_method="none")
    cv = res.condvar()
    for name, blocks in dense_condvar_blocks(res.model, res).items():
        np.testing.assert_allclose(cv[name], blocks, rtol=1e-7, atol=1e-12)
    assert len(cv) == 3
    record_from_result(res)  # the fit record (conditional SDs included) is built
