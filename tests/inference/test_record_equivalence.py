"""Profiles and bootstrap replicates from a FitRecord give the numbers of the code they replace,
to 1e-10 relative: the profile's model restored from the record against the model built again from
the formula text (``restore`` patched back to that), and the bootstrap's replicates against those
drawn from the stored fit dict (design from the formula text, Sigma from the stored variance rows).
A Rubin-pooled record is profiled at its own criterion's fit to the data (no single data set has
the pooled estimates)."""

import warnings
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import mlmpipe
from mlmpipe.engine.fit import fit_design
from mlmpipe.engine.lmm import LinearMixedModel
from mlmpipe.formula import build_design
from mlmpipe.inference import profile
from mlmpipe.inference.bootstrap import _parameters, bootstrap_batch
from mlmpipe.inference.profile import profile_intervals
from mlmpipe.record import FitRecord, Pooling
from mlmpipe.record.capture import record_from_result
from tests.reference.datasets import load

RTOL = 1e-10
SLOPE = "Reaction ~ Days + (1 + Days | Subject)"


@pytest.fixture(scope="module")
def sleep():
    return load("lme4::sleepstudy")


def _rebuilt(rec: FitRecord, data: pd.DataFrame) -> SimpleNamespace:
    """The profile's model before fit records: built again from the formula text."""
    return SimpleNamespace(
        model=LinearMixedModel(build_design(rec.formula_text, data), reml=rec.reml)
    )


def _assert_rows_equal(new: list[dict], old: list[dict]) -> None:
    assert [r["parameter"] for r in new] == [r["parameter"] for r in old]
    for a, b in zip(new, old, strict=True):
        assert set(a) == set(b)
        for k, v in a.items():
            if isinstance(v, float):
                assert v == pytest.approx(b[k], rel=RTOL, abs=0), (a["parameter"], k)
            else:
                assert v == b[k], (a["parameter"], k)


@pytest.mark.parametrize("reml,criterion", [(True, "fit"), (False, "ml")])
def test_profile_of_restored_model_equals_rebuilt(monkeypatch, sleep, reml, criterion):
    rec = record_from_result(mlmpipe.fit(SLOPE, sleep, reml=reml))
    new = profile_intervals(rec, sleep, criterion=criterion)
    with monkeypatch.context() as m:
        m.setattr(profile, "restore", _rebuilt)
        old = profile_intervals(rec, sleep, criterion=criterion)
    _assert_rows_equal(new, old)


def test_pooled_record_is_profiled_at_its_fit_to_the_data(sleep):
    rec = record_from_result(mlmpipe.fit("Reaction ~ Days + (1 | Subject)", sleep, reml=False))
    pooled = rec.replace(pooling=Pooling("rubin", 2), theta=rec.theta * 1.1)
    own = fit_design(rec.design(sleep), reml=False, df_method="none", theta0=pooled.theta)
    want = profile_intervals(record_from_result(own), sleep)
    _assert_rows_equal(profile_intervals(pooled, sleep), want)


def _replicates_from_dict(fit: dict, data: pd.DataFrame, resamples: int, seed: int, batch: int):
    """Each replicate's parameters as the fit-dict bootstrap drew and refitted them."""
    design = build_design(fit["formula"], data)
    est = {f["term"]: f["estimate"] for f in fit["fixed"]}
    mean = np.asarray(design.X, float) @ np.array([est[n] for n in design.fixed_names])
    rng = np.random.default_rng([seed, batch])
    out = []
    for _ in range(resamples):
        y = mean + rng.normal(scale=float(fit["sigma"]), size=len(mean))
        for t in design.re_terms:
            rows = [r for r in fit["random"] if r["group"] == t.group]
            names = [r["term1"] for r in rows if r["term2"] is None]
            S = np.zeros((len(names), len(names)))
            for r in rows:
                a = names.index(r["term1"])
                b = a if r["term2"] is None else names.index(r["term2"])
                S[a, b] = S[b, a] = r["vcov"]
            L = np.linalg.cholesky(S + 1e-12 * np.eye(len(S)))
            b = rng.standard_normal((t.nlevels, len(S))) @ L.T
            y = y + np.einsum("ia,ia->i", np.asarray(t.Z, float), b[np.asarray(t.codes)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = fit_design(
                replace(design, y=y), reml=fit["reml"], df_method="none", theta0=fit["theta"]
            )
        out.append(_parameters(res))
    return out


def test_bootstrap_replicates_equal_those_from_the_fit_dict(sleep):
    res = mlmpipe.fit(SLOPE, sleep)
    rec = record_from_result(res)
    new = bootstrap_batch(rec, sleep, 4, seed=20240101, batch=1)
    old = _replicates_from_dict(res.to_dict(), sleep, 4, 20240101, 1)
    assert not new["failures"] and len(new["replicates"]) == 4
    for got, want in zip(new["replicates"], old, strict=True):
        assert list(got) == list(want)
        assert list(got.values()) == pytest.approx(list(want.values()), rel=RTOL, abs=0)


def test_random_covariances_from_the_record_rows(sleep):
    res = mlmpipe.fit(SLOPE, sleep)
    (names, S) = record_from_result(res).covariance_matrices()["Subject"]
    assert names == ["(Intercept)", "Days"]
    np.testing.assert_allclose(S, res.covariance_matrices()["Subject"], rtol=1e-12)
