"""Cluster influence against leave-one-subject-out lmer refits of sleepstudy
(tests/fixtures/effects/make_influence_fixtures.R): Cook's distance and DFBETAS as influence.ME
defines them, and their relation to lme4's influence.merMod."""

import json
from pathlib import Path

import numpy as np
import pytest

import mlmpipe
from mlmpipe.diagnostics.influence import leave_one_cluster_out
from mlmpipe.record.capture import record_from_result
from tests.reference.datasets import load

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "effects" / "influence.json"
CASES = ["sleepstudy_slope", "sleepstudy_intercept"]


@pytest.fixture(scope="module")
def ifix():
    return json.loads(FIXTURE.read_text())


@pytest.fixture(scope="module")
def sleep():
    return load("lme4::sleepstudy")


@pytest.fixture(scope="module")
def ours(ifix, sleep):
    out = {}
    for case in CASES:
        c = ifix["cases"][case]
        res = mlmpipe.fit(c["formula"], sleep, reml=True)
        fit = res.to_dict()
        assert [f["estimate"] for f in fit["fixed"]] == pytest.approx(c["beta"], rel=1e-7)
        out[case] = leave_one_cluster_out(record_from_result(res), sleep, c["group"])
    return out


@pytest.mark.reference
@pytest.mark.parametrize("case", CASES)
def test_cooks_distance_and_dfbetas_match_refits_in_r(ifix, ours, case):
    c = ifix["cases"][case]
    want = {r["cluster"]: r for r in c["table"]}
    got = {r["cluster"]: r for r in ours[case]["table"]}
    assert set(got) == set(want) and len(got) == 18
    for cid, w in want.items():
        assert got[cid]["cooks_d"] == pytest.approx(w["cooks_d"], rel=1e-4, abs=1e-8), cid
        for name in c["names"]:
            key = f"dfbetas {name}"
            assert got[cid][key] == pytest.approx(w[key], rel=1e-4, abs=1e-7), (cid, key)
    assert ours[case]["cutoffs"]["cooks_d"] == pytest.approx(4 / 18)


@pytest.mark.reference
@pytest.mark.parametrize("case", CASES)
def test_relation_to_lme4_influence_merMod(ifix, ours, case):
    """lme4's cooks.distance scales the quadratic form by (J - p) / (J p), not 1 / p, and its
    dfbetas are (b_(j) - b) / SE_(j); its refits stop at lme4's default tolerances (hence 1e-3)."""
    c = ifix["cases"][case]
    lm = c["lme4_influence"]
    J, p = len(lm["cluster"]), len(c["names"])
    got = {r["cluster"]: r for r in ours[case]["table"]}
    d = np.array([got[cid]["cooks_d"] for cid in lm["cluster"]])
    assert d * (J - p) / J == pytest.approx(lm["cooks_distance"], rel=1e-3)
    for k, name in enumerate(c["names"]):
        b = np.array([got[cid][f"dfbetas {name}"] for cid in lm["cluster"]])
        assert -b == pytest.approx(np.array(lm["dfbetas"])[:, k], rel=1e-3, abs=1e-5)
