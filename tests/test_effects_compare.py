import numpy as np
import pytest
from scipy import stats

from mlmpipe.compare import classify, compare_sequence, lrt, mixture_pvalue, prv
from mlmpipe.effects import icc
from mlmpipe.record import FitRecord


def fit(fixed, random, loglik, npar, tau=8.0, sigma2=40.0):
    rows = [
        {
            "group": "school",
            "term1": t,
            "term2": None,
            "vcov": tau if t == "(Intercept)" else 0.1,
            "sdcor": 0,
        }
        for t in random
    ]
    rows.append({"group": "Residual", "term1": None, "term2": None, "vcov": sigma2, "sdcor": 0})
    return {
        "fixed": [{"term": t} for t in fixed],
        "random": rows,
        "loglik": loglik,
        "npar": npar,
        "aic": 0,
        "bic": 0,
        "deviance": -2 * loglik,
        "converged": True,
        "singular": False,
    }


def test_icc_hsb_null_values():
    d = fit(["(Intercept)"], ["(Intercept)"], 0, 3, tau=8.614, sigma2=39.148)
    f = FitRecord.from_dict(d | {"formula": "mAch ~ 1 + (1 | school)", "fixed": []})
    assert icc(f)["school"] == pytest.approx(0.1803, abs=1e-4)


def test_mixture_pvalue():
    # one variance added: 0.5 chi2(0) + 0.5 chi2(1) -> half the naive p-value
    assert mixture_pvalue(3.84, 1) == pytest.approx(0.5 * stats.chi2.sf(3.84, 1))
    # slope + covariance added: 0.5 chi2(1) + 0.5 chi2(2)
    assert mixture_pvalue(5.0, 2) == pytest.approx(
        0.5 * stats.chi2.sf(5, 1) + 0.5 * stats.chi2.sf(5, 2)
    )
    assert mixture_pvalue(0.0, 1) == pytest.approx(0.5 + 0.5 * 1.0)  # point mass at 0 counts


def test_lrt_and_classification():
    a = fit(["(Intercept)"], ["(Intercept)"], -100.0, 3)
    b = fit(["(Intercept)", "x"], ["(Intercept)"], -95.0, 4)
    c = fit(["(Intercept)", "x"], ["(Intercept)", "x"], -93.0, 6)
    assert classify(a, b) == "fixed" and classify(b, c) == "random" and classify(a, c) == "both"
    assert classify(b, a) == "not_nested"
    t = lrt(a, b, "fixed")
    assert t["chisq"] == pytest.approx(10.0) and t["df"] == 1
    assert t["p"] == pytest.approx(stats.chi2.sf(10.0, 1))
    assert lrt(b, c, "random")["p"] == pytest.approx(mixture_pvalue(4.0, 2))


def test_prv_and_sequence():
    a = fit(["(Intercept)"], ["(Intercept)"], -100.0, 3, tau=8.0, sigma2=40.0)
    b = fit(["(Intercept)", "x"], ["(Intercept)"], -95.0, 4, tau=2.0, sigma2=36.0)
    assert prv(a, b) == {"school": pytest.approx(0.75), "Residual": pytest.approx(0.1)}
    models = [
        {"name": "a", "label": "A", "formula": "y~1"},
        {"name": "b", "label": "B", "formula": "y~x"},
    ]
    fits = {("a", "reml"): a, ("a", "ml"): a, ("b", "reml"): b, ("b", "ml"): b}
    comp = compare_sequence(models, fits)
    assert comp["models"][1]["test"]["estimator"] == "ml"
    assert np.isclose(comp["models"][1]["test"]["chisq"], 10.0)
