"""Kenward-Roger inference against R's pbkrtest / lmerTest (fixture: tests/fixtures/kr/, made by
make_kr_fixtures.R) and against a dense n x n implementation of the same formulas."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlmpipe
from mlmpipe.engine.kenward_roger import kenward_roger, kr_adjustment, kr_ftest
from mlmpipe.engine.lmm import LinearMixedModel
from mlmpipe.errors import EstimationError
from mlmpipe.formula import build_design

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "kr" / "kr_fits.json"
VECTORS = ("theta", "fixed_names", "beta", "kr_ddf")


def _load_cases() -> dict:
    """The fixture's cases; jsonlite writes length-1 vectors as scalars, made lists again here."""
    cases = json.loads(FIXTURE.read_text(encoding="utf-8"))["cases"]
    for case in cases.values():
        for key in VECTORS:
            if not isinstance(case[key], list):
                case[key] = [case[key]]
        for part in ("summary", "anova"):
            case[part] = {k: v if isinstance(v, list) else [v] for k, v in case[part].items()}
    return cases


CASES = _load_cases()
IDS = list(CASES)


@cache
def _data(case_id: str) -> pd.DataFrame:
    case = CASES[case_id]
    if "data" not in case:
        from tests.reference.datasets import load

        return load(case["dataset"])
    df = pd.DataFrame(case["data"])
    for col, levels in case.get("factor_levels", {}).items():
        df[col] = pd.Categorical(df[col], categories=levels)
    return df


def data(case_id: str) -> pd.DataFrame:
    return _data(case_id).copy()


@cache
def at_r_optimum(case_id: str):
    """Our model at R's theta (so the comparison tests the KR algebra, not the optimizer)."""
    case = CASES[case_id]
    model = LinearMixedModel(build_design(case["formula"], data(case_id)), reml=True)
    assert list(model.fixed_names) == case["fixed_names"]
    theta = np.asarray(case["theta"], float)
    f = model.factorize(theta)
    sigma = model.sigma_from(f)
    vcov = model.vcov_beta(f, sigma)
    return model, kenward_roger(model, theta, sigma, vcov), sigma


def rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))


@pytest.mark.parametrize("case_id", IDS)
def test_adjusted_vcov_and_df_match_pbkrtest(case_id):
    case = CASES[case_id]
    model, adj, sigma = at_r_optimum(case_id)
    assert rel(sigma, case["sigma"]) < 1e-9
    assert rel(adj.vcov, case["vcov"]) < 1e-7
    # Phi_A: entries relative to the diagonal scale (off-diagonals can be near 0)
    scale = np.sqrt(np.outer(np.diag(case["vcov_adj"]), np.diag(case["vcov_adj"])))
    assert np.max(np.abs(adj.vcov_adj - np.asarray(case["vcov_adj"])) / scale) < 1e-9
    assert rel(adj.coef_df(), case["kr_ddf"]) < 1e-9
    # the covariance of the covariance parameters, in pbkrtest's order
    assert rel(np.diag(adj.W), np.diag(case["W"])) < 1e-9
    assert len(adj.params) == len(case["W"])


@pytest.mark.parametrize("case_id", IDS)
def test_contrast_ftest_matches_krmodcomp(case_id):
    case = CASES[case_id]
    model, adj, _ = at_r_optimum(case_id)
    c = case["contrast"]
    L = np.atleast_2d(np.asarray(c["L"], float))
    out = adj.ftest(L, np.asarray(case["beta"]))
    assert out["ndf"] == c["ndf"]
    assert rel(out["ddf"], c["ddf"]) < 1e-9
    assert rel(out["scale"], c["F_scaling"]) < 1e-9
    assert rel(out["F_unscaled"], c["FstatU"]) < 1e-9
    assert rel(out["F"], c["Fstat"]) < 1e-9
    assert rel(out["p"], c["p"]) < 1e-5


def _anova_rows(case_id: str):
    """lmerTest's anova rows with the type III contrast matrix of each term (``show_tests``)."""
    a = CASES[case_id]["anova"]
    for i, term in enumerate(a["term"]):
        want = {k: a[k][i] for k in ("NumDF", "DenDF", "F", "p")}
        yield term, np.atleast_2d(np.asarray(a["L"][i], float)), want


@pytest.mark.parametrize("case_id", IDS)
def test_fit_with_kenward_roger_matches_lmertest(case_id):
    """End to end: our optimizer, then the KR table, against summary(m, ddf = "Kenward-Roger") and
    anova(m, ddf = "Kenward-Roger") (each term's type III contrast)."""
    case = CASES[case_id]
    res = mlmpipe.fit(case["formula"], data(case_id), df_method="kenward_roger")
    tab = res.fixed_table()
    s = case["summary"]
    assert rel(tab["estimate"], s["estimate"]) < 1e-5
    assert rel(tab["se"], s["se"]) < 1e-4
    assert rel(tab["df"], s["df"]) < 1e-4
    assert rel(tab["t"], s["t"]) < 1e-4
    d = res.to_dict()
    assert d["df_method"] == "kenward_roger"
    assert "Kenward-Roger df" in res.summary()
    for term, L, want in _anova_rows(case_id):
        got = kr_ftest(res, L)
        assert got["ndf"] == want["NumDF"], term
        assert rel(got["ddf"], want["DenDF"]) < 1e-4, term
        assert rel(got["F"], want["F"]) < 1e-4, term


@pytest.mark.parametrize(
    ("groups", "theta"),
    [(((9, 2), (5, 1)), [0.8, 0.3, 0.5, 0.6]), (((9, 2),), [0.8, -0.3, 0.5])],
    ids=["crossed-dense-path", "one-term-block-path"],
)
def test_woodbury_pieces_match_dense_formulas(groups, theta):
    """Phi_A, W and P of a random design (two crossed terms, one with a random slope; or one
    term) equal the dense n x n evaluation of Kenward & Roger's formulas (pbkrtest's algorithm
    written out)."""
    from tests.engine.conftest import make_design

    design = make_design(np.random.default_rng(7), n=90, groups=groups, p=3)
    model = LinearMixedModel(design, reml=True)
    theta = np.array(theta)
    f = model.factorize(theta)
    sigma = model.sigma_from(f)
    Phi = model.vcov_beta(f, sigma)
    adj = kenward_roger(model, theta, sigma, Phi)

    X, n, s2 = model.X, model.n, sigma**2
    Gs, vals = [], []
    for i, r in enumerate(model.reterms):
        Zt = model._Zs[model.order.index(i)].toarray()
        T = r.T(theta[model.theta_index[i]])
        Psi = s2 * T @ T.T
        for a, b in zip(r.tri_rows, r.tri_cols, strict=True):
            E = np.zeros((r.q, r.q))
            E[a, b] = E[b, a] = 1.0
            Gs.append(Zt @ np.kron(np.eye(r.m), E) @ Zt.T)
            vals.append(Psi[a, b])
    Gs.append(np.eye(n))
    vals.append(s2)
    Vi = np.linalg.inv(sum(v * G for v, G in zip(vals, Gs, strict=True)))
    assert np.allclose(np.linalg.inv(X.T @ Vi @ X), Phi, rtol=1e-10)
    H = [G @ Vi for G in Gs]
    P = [-(h @ X).T @ Vi @ X for h in H]
    Q = [[(H[r] @ X).T @ Vi @ (H[s] @ X) for s in range(len(Gs))] for r in range(len(Gs))]
    k = len(Gs)
    IE2 = np.array(
        [
            [
                np.trace(H[r] @ H[s])
                - 2 * np.sum(Phi * Q[r][s])
                + np.trace(Phi @ P[r] @ Phi @ P[s])
                for s in range(k)
            ]
            for r in range(k)
        ]
    )
    W = 2 * np.linalg.inv(IE2)
    U = sum(W[r, s] * (Q[r][s] - P[r] @ Phi @ P[s]) for r in range(k) for s in range(k))
    assert np.allclose(adj.W, W, rtol=1e-9, atol=0)
    assert np.allclose(adj.vcov_adj, Phi + 2 * Phi @ U @ Phi, rtol=1e-9, atol=0)
    assert np.allclose(adj.P, np.array(P), rtol=1e-9, atol=1e-12)


def test_ml_fit_is_refused_with_one_line_error():
    df = data("sleepstudy_rs")
    with pytest.raises(EstimationError, match="REML") as exc:
        mlmpipe.fit(CASES["sleepstudy_rs"]["formula"], df, reml=False, df_method="kenward_roger")
    assert "\n" not in str(exc.value)
    res = mlmpipe.fit(CASES["sleepstudy_rs"]["formula"], df, reml=False)
    with pytest.raises(EstimationError, match="REML"):
        kr_adjustment(res)


def test_bad_contrast_names_are_named():
    res = mlmpipe.fit(CASES["sleepstudy_rs"]["formula"], data("sleepstudy_rs"))
    with pytest.raises(EstimationError, match="'Dayz'"):
        kr_ftest(res, ["Dayz"])
    with pytest.raises(EstimationError, match="3 columns"):
        kr_ftest(res, np.ones((1, 3)))


def test_too_many_random_effects_raise_naming_the_size(monkeypatch):
    import mlmpipe.engine.kenward_roger as kr

    model, _, _ = at_r_optimum("penicillin_crossed")  # 24 plates + 6 samples
    monkeypatch.setattr(kr, "MAX_RANEF", 10)
    with pytest.raises(EstimationError, match="30 random effects exceed the limit of 10"):
        kr.kenward_roger(model, np.array([1.5, 3.0]), 0.5, np.eye(1))


def test_hsb_kenward_roger_is_fast():
    """HSB (7,185 rows, 160 schools, random slope): the adjustment itself in well under a second
    on an idle machine; the bar leaves room for a loaded 2-core box."""
    import time

    model, _, _ = at_r_optimum("hsb_xlevel")
    theta = np.asarray(CASES["hsb_xlevel"]["theta"])
    f = model.factorize(theta)
    sigma = model.sigma_from(f)
    vcov = model.vcov_beta(f, sigma)
    t0 = time.perf_counter()
    kenward_roger(model, theta, sigma, vcov)
    assert time.perf_counter() - t0 < 5.0
