"""Model parts of an uncorrelated (``||``) random part: the terms of one grouping factor form one
block-diagonal covariance (the ladder's ``uncorrelated`` rung ends at such models)."""

import numpy as np

import mlmpipe
from mlmpipe.data.example import load_example
from mlmpipe.effects.parts import fit_parts
from mlmpipe.record.capture import record_from_result


def test_uncorrelated_terms_of_one_factor_are_one_block_diagonal_term():
    d = load_example("chem97")
    d["m"] = d.groupby("school")["gcsescore"].transform("mean")
    d["c"] = d["gcsescore"] - d["m"]
    rec = record_from_result(mlmpipe.fit("score ~ 1 + c + m + (1 | lea) + (1 + c || school)", d))
    parts = fit_parts(rec, d)
    assert set(parts.terms) == {"lea", "school"}
    codes, Z, S = parts.terms["school"]
    vc = {(r.group, r.term1): r.vcov for r in rec.random if r.term2 is None}
    assert S[0, 1] == S[1, 0] == 0.0
    np.testing.assert_allclose(Z[:, 0], 1.0)
    np.testing.assert_allclose(Z[:, 1], d["c"].to_numpy())
    assert {round(float(v), 12) for v in np.diag(S)} == {
        round(float(vc[("school", "c")]), 12),
        round(float(vc[("school.1", "(Intercept)")]), 12),
    }
