"""Fresh fits of a record's model (``effects/refit.py``): the record's family, link and nAGQ."""

from __future__ import annotations

import mlmpipe
from mlmpipe.effects.glmm_predictions import glmm_predictions
from mlmpipe.effects.refit import fit_again
from mlmpipe.record import FitRecord, ModelFamily
from mlmpipe.record.capture import record_from_result
from tests.effects.test_glmm_predictions import NO_PLAN, _data


def fit_options(rec):
    return rec.family.fit_options()


def test_options_keep_nagq_zero_and_gaussian_has_none():
    rec = FitRecord.from_dict({"formula": "y ~ x + (1 | g)"})
    assert fit_options(rec) == {}
    glmm = rec.replace(family=ModelFamily("binomial", "logit", 0))
    assert fit_options(glmm) == {"family": "binomial", "link": "logit", "nagq": 0}
    assert fit_options(glmm.replace(family=ModelFamily("poisson", "log")))["nagq"] == 1


def test_nagq_zero_record_is_fitted_again_with_nagq_zero():
    d = _data()
    res = mlmpipe.fit("y ~ x + w + (1 | g)", d, family="binomial", nagq=0)
    rec = record_from_result(res, model="m1")
    again = fit_again(rec, d)
    assert again.glmm.nagq == 0
    assert again.theta.tolist() == res.theta.tolist()
    out = glmm_predictions(rec, d, {"alpha": 0.05, "predictions": NO_PLAN})
    assert "nAGQ = 0 has no Hessian" in out["method"]
