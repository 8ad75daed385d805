"""GLMMs through the plan and the fit step: ``estimation.family`` reaches ``mlmpipe.fit``."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlmpipe.errors import PlanError
from mlmpipe.plan import Plan
from mlmpipe.steps.models import fit_step
from tests.records import document

PLAN = Path(__file__).resolve().parents[2] / "config" / "analysis.yaml"


def config(**estimation) -> dict:
    cfg = yaml.safe_load(PLAN.read_text(encoding="utf-8"))
    cfg = copy.deepcopy(cfg)
    cfg["estimation"] = {**cfg.get("estimation", {}), **estimation}
    return cfg


def test_family_goes_into_the_fit_slice_only_when_not_gaussian() -> None:
    gauss = Plan.from_config(config())
    assert "family" not in json.loads(gauss.slice_fit(gauss.models[0].name, "reml"))
    plan = Plan.from_config(config(family="binomial", link="probit", nagq=1, estimators=["ml"]))
    sl = json.loads(plan.slice_fit(plan.models[0].name, "ml"))
    assert (sl["family"], sl["link"], sl["nagq"]) == ("binomial", "probit", 1)


def test_reml_is_refused_for_a_glmm() -> None:
    with pytest.raises(PlanError, match=r"estimation.estimators: family 'poisson' has no REML"):
        Plan.from_config(config(family="poisson", estimators=["reml", "ml"]))


def test_fit_step_fits_a_glmm_and_reports_latent_icc() -> None:
    rng = np.random.default_rng(11)
    g = np.repeat(np.arange(15), 10)
    eta = -0.2 + rng.normal(0, 0.9, 15)[g]
    df = pd.DataFrame({"y": rng.binomial(1, 1 / (1 + np.exp(-eta))), "g": g})
    spec = {
        "model": "m0",
        "formula": "y ~ 1 + (1 | g)",
        "estimator": "ml",
        "backend": "mlmpipe",
        "convergence": None,
        "family": "binomial",
        "link": None,
        "nagq": 1,
    }
    rec, resid = fit_step(df, spec)
    d = document(rec)
    assert d["family"] == "binomial" and d["model"] == "m0"
    var = d["random"][0]["vcov"]
    assert d["icc"]["g"] == pytest.approx(var / (var + np.pi**2 / 3))
    assert len(resid) == len(df) and resid["fitted"].between(0, 1).all()
