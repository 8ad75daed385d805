"""Pooling of result dicts across imputations and the D2 likelihood-ratio test in compare."""

import numpy as np
import pytest

from mlmpipe.compare import lrt
from mlmpipe.missing import pool_fits
from mlmpipe.missing.rubin import pool_d2, pool_scalar
from tests.records import document, record


def fake_fit(i, extra=0.0):
    return record(fake_doc(i, extra))


def fake_doc(i, extra=0.0):
    b = 1.0 + 0.1 * i
    return {
        "model": "m1",
        "estimator": "reml",
        "fixed": [
            {"term": "(Intercept)", "estimate": b, "se": 0.2, "df": 40.0},
            {"term": "x", "estimate": 0.5 - 0.05 * i, "se": 0.1, "df": 300.0},
        ],
        "random": [
            {
                "group": "cl",
                "term1": "(Intercept)",
                "term2": None,
                "vcov": 4.0 * (1 + 0.1 * i),
                "sdcor": 2.0 * np.sqrt(1 + 0.1 * i),
            },
            {"group": "cl", "term1": "x", "term2": None, "vcov": 0.25, "sdcor": 0.5},
            {
                "group": "cl",
                "term1": "(Intercept)",
                "term2": "x",
                "vcov": 0.3,
                "sdcor": 0.3 + 0.1 * i,
            },
            {"group": "Residual", "term1": None, "term2": None, "vcov": 9.0, "sdcor": 3.0},
        ],
        "loglik": -500.0 - i + extra,
        "aic": 1000.0,
        "bic": 1010.0,
        "deviance": 1000.0,
        "npar": 6,
        "converged": True,
        "singular": False,
        "warnings": [],
    }


def test_pool_fits_fixed_random_icc():
    fits = [fake_fit(i) for i in range(4)]
    p = document(pool_fits(fits))
    ref = pool_scalar(np.array([[1.0 + 0.1 * i] for i in range(4)]), np.full((4, 1), 0.04), 40.0)
    icpt = p["fixed"][0]
    assert icpt["estimate"] == pytest.approx(ref["estimate"][0])
    assert icpt["df"] == pytest.approx(ref["df"][0]) and icpt["dfcom"] == 40.0
    assert 0 < icpt["fmi"] < 1
    sd = [2.0 * np.sqrt(1 + 0.1 * i) for i in range(4)]
    re = {(r["group"], r["term1"], r["term2"]): r for r in p["random"]}
    assert re[("cl", "(Intercept)", None)]["sdcor"] == pytest.approx(np.exp(np.mean(np.log(sd))))
    r = np.tanh(np.mean(np.arctanh([0.3 + 0.1 * i for i in range(4)])))
    cov = re[("cl", "(Intercept)", "x")]
    assert cov["sdcor"] == pytest.approx(r)
    assert cov["vcov"] == pytest.approx(r * np.exp(np.mean(np.log(sd))) * 0.5)
    iccs = [v**2 / (v**2 + 9.0) for v in sd]
    logit = np.mean(np.log(np.array(iccs) / (1 - np.array(iccs))))
    assert p["icc_pooled"]["cl"]["estimate"] == pytest.approx(1 / (1 + np.exp(-logit)))
    assert p["pooling"]["m"] == 4 and p["loglik_imputations"] == [-500.0, -501.0, -502.0, -503.0]


def test_pooling_refuses_different_terms():
    a, b = fake_fit(0), fake_fit(1)
    b = b.replace(fixed=b.fixed[:1])
    with pytest.raises(ValueError, match="different fixed-effect terms"):
        pool_fits([a, b])


def test_compare_uses_d2_for_pooled_fits():
    small = pool_fits([fake_fit(i) for i in range(4)])
    big = pool_fits([fake_fit(i, extra=3.0 + i) for i in range(4)])
    big = big.replace(npar=7)
    res = lrt(small, big, "fixed")
    d2 = pool_d2(np.array([6.0, 8.0, 10.0, 12.0]), 1)
    assert res["p"] == pytest.approx(d2["p"]) and res["df"] == 1
    assert res["reference"].startswith("D2 F(1,")


def test_ranef_pooled_with_rubins_rule():
    fits = []
    for i in range(3):
        f = fake_doc(i)
        f["ranef"] = {
            "cl": {
                "levels": ["a", "b"],
                "terms": ["(Intercept)"],
                "values": [[1.0 + i], [0.0]],
                "condsd": [[0.5], [0.5]],
            }
        }
        fits.append(record(f))
    re = document(pool_fits(fits))["ranef"]["cl"]
    assert re["values"] == [[2.0], [0.0]] and re["levels"] == ["a", "b"]
    assert re["condsd"][0][0] == pytest.approx(np.sqrt(0.25 + (4 / 3) * 1.0))
    assert re["condsd"][1][0] == pytest.approx(0.5)
