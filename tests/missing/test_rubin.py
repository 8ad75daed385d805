"""Rubin's rules, Barnard-Rubin df, FMI and D2 against mice 3.15 / mitml 0.4-4 on fixed inputs
(tests/fixtures/mi/mice_pool.json, made by make_mice_pool_fixture.R in the same folder)."""

import json
from pathlib import Path

import numpy as np
import pytest

from mlmpipe.missing.rubin import barnard_rubin_df, pool_d2, pool_point, pool_scalar

FIX = json.loads((Path(__file__).parents[1] / "fixtures/mi/mice_pool.json").read_text())


def test_pool_matches_mice_pool_on_lm_fits():
    case = FIX["nhanes_lm"]
    per = case["per_imputation"]
    q = np.array([p["estimate"] for p in per])
    u = np.array([p["variance"] for p in per])
    res = pool_scalar(q, u, dfcom=per[0]["dfcom"])
    ref = case["pooled"]
    for key in ("estimate", "ubar", "b", "t", "df", "riv", "lambda", "fmi", "se", "p"):
        np.testing.assert_allclose(res[key], ref[key], rtol=1e-10, err_msg=key)
    np.testing.assert_allclose(res["statistic"], ref["statistic"], rtol=1e-10)
    np.testing.assert_allclose(res["ci_low"], ref["ci_low"], rtol=1e-10)
    np.testing.assert_allclose(res["ci_high"], ref["ci_high"], rtol=1e-10)


@pytest.mark.parametrize("i", range(4))
def test_pool_scalar_matches_mice(i):
    case = FIX["scalar"][i]
    dfcom = np.inf if case["dfcom"] == "Inf" else case["dfcom"]
    res = pool_scalar(np.array(case["Q"])[:, None], np.array(case["U"])[:, None], dfcom)
    for key, ref in (
        ("estimate", "qbar"),
        ("ubar", "ubar"),
        ("b", "b"),
        ("t", "t"),
        ("df", "df"),
        ("riv", "riv"),
        ("fmi", "fmi"),
    ):
        assert res[key][0] == pytest.approx(case[ref], rel=1e-10, abs=1e-14), key


def test_d2_matches_mitml():
    case = FIX["nhanes_d2"]
    res = pool_d2(np.array(case["chisq"]), case["k"])
    ref = case["result"]
    assert res["statistic"] == pytest.approx(ref["F.value"], rel=1e-10)
    assert res["df2"] == pytest.approx(ref["df2"], rel=1e-10)
    assert res["riv"] == pytest.approx(ref["RIV"], rel=1e-10)
    assert res["p"] == pytest.approx(ref["P(>F)"], rel=1e-8)


def test_df_bounds_and_no_between_variance():
    # b = 0: lambda floored at 1e-4, df close to the observed-data df, never above dfcom
    df = barnard_rubin_df(5, np.array([0.0]), np.array([1.0]), 30.0)
    assert 27 < df[0] < 30
    assert barnard_rubin_df(5, np.array([0.5]), np.array([1.0]), np.inf)[0] == pytest.approx(
        4 / (0.6**2)
    )
    with pytest.raises(ValueError, match="at least 2"):
        pool_scalar(np.ones((1, 2)), np.ones((1, 2)))


def test_pool_point_scales():
    sds = np.array([1.0, 2.0, 4.0])
    assert pool_point(sds, "log")["estimate"] == pytest.approx(2.0)
    r = pool_point(np.array([0.2, 0.4]), "fisher_z")
    assert r["estimate"] == pytest.approx(np.tanh(np.mean(np.arctanh([0.2, 0.4]))))
    assert pool_point(np.array([0.1, 0.9]), "logit")["estimate"] == pytest.approx(0.5)
    edge = pool_point(np.array([0.0, 1.0, 1.0]), "log")
    assert edge["boundary_imputations"] == 1 and edge["estimate"] == pytest.approx(1.0)
