"""Priors of Bayesian modal estimation (engine/priors.py): each penalty is -2 log of the density
scipy.stats gives (where the prior is proper), the improper blme defaults, the spec reader's
errors, and the interfaces (mlmpipe.fit, the plan's estimation section)."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats

import mlmpipe
from mlmpipe.data.example import load_example
from mlmpipe.engine.fit import fit_lmm
from mlmpipe.engine.priors import (
    FixefNormal,
    Gamma,
    HalfT,
    InvGamma,
    InvWishart,
    PriorSpec,
    Wishart,
    cov_prior_from,
    resolve_prior,
)
from mlmpipe.errors import PlanError
from mlmpipe.plan import Plan
from mlmpipe.plan.sections import EstimationSection

T2 = np.array([[0.8, 0.0], [0.3, 0.5]])


def test_wishart_penalty_is_minus_twice_the_log_density():
    S = np.array([[2.0, 0.3], [0.3, 0.5]])
    pen = Wishart(df=4.0, scale=S).penalty_fn(2)
    assert pen(T2) == pytest.approx(
        -2 * stats.wishart(df=4.0, scale=S).logpdf(T2 @ T2.T), abs=1e-10
    )


def test_invwishart_penalty_is_minus_twice_the_log_density():
    S = np.array([[1.5, -0.2], [-0.2, 0.7]])
    pen = InvWishart(df=3.5, scale=S).penalty_fn(2)
    ref = -2 * stats.invwishart(df=3.5, scale=S).logpdf(T2 @ T2.T)
    assert pen(T2) == pytest.approx(ref, abs=1e-10)


def test_blme_default_wishart_is_minus_three_log_det_factor():
    pen = Wishart().penalty_fn(2)
    assert pen(T2) == pytest.approx(-3 * math.log(0.8 * 0.5), abs=1e-12)
    assert pen(np.array([[0.8, 0.0], [0.3, 0.0]])) == math.inf  # the boundary has density 0
    assert Wishart().penalty_fn(1)(np.array([[0.4]])) == pytest.approx(-3 * math.log(0.4))


@pytest.mark.parametrize("on,power", [("sd", 1), ("var", 2)])
def test_gamma_and_invgamma_penalties(on, power):
    t = np.array([[0.7]])
    g = Gamma(shape=2.0, rate=0.5, parameter=on).penalty_fn(1)(t)
    assert g == pytest.approx(-2 * stats.gamma(a=2.0, scale=1 / 0.5).logpdf(0.7**power), abs=1e-12)
    ig = InvGamma(shape=1.5, scale=0.3, parameter=on).penalty_fn(1)(t)
    assert ig == pytest.approx(-2 * stats.invgamma(a=1.5, scale=0.3).logpdf(0.7**power), abs=1e-12)


def test_half_t_and_half_cauchy_on_each_sd():
    sds = np.sqrt(np.sum(T2 * T2, axis=1))
    pen = HalfT(df=3.0, scale=2.0).penalty_fn(2)
    half_t = math.log(2.0) + stats.t(df=3, scale=2.0).logpdf(sds)  # density on [0, inf)
    assert pen(T2) == pytest.approx(-2 * np.sum(half_t))
    hc = cov_prior_from({"type": "half_cauchy", "scale": 1.5}).penalty_fn(2)
    assert hc(T2) == pytest.approx(-2 * np.sum(stats.halfcauchy(scale=1.5).logpdf(sds)))


def test_resolve_prior_forms():
    assert resolve_prior("blme") == PriorSpec()
    assert resolve_prior({"type": "gamma", "shape": 2}).cov == Gamma(shape=2)
    spec = resolve_prior({"cov": "invwishart", "by_group": {"school": {"type": "half_t"}}})
    assert spec.cov == InvWishart() and spec.by_group["school"] == HalfT()
    assert resolve_prior("none").cov is None


@pytest.mark.parametrize(
    "bad,msg",
    [
        ({"type": "lognormal"}, "unknown prior 'lognormal'"),
        ({"type": "gamma", "shap": 2}, "gamma"),
        ({"covv": "wishart"}, "unknown key"),
        (42, "cannot read a prior"),
    ],
)
def test_resolve_prior_rejects(bad, msg):
    with pytest.raises(PlanError, match=msg):
        resolve_prior(bad)


@pytest.mark.parametrize(
    "prior,q,msg",
    [
        (Gamma(), 2, "a term with 2 random effects"),
        (Wishart(df=0.5), 2, "df must exceed 1"),
        (InvWishart(scale=[1.0, -1.0]), 2, "positive definite"),
        (HalfT(scale=0.0), 1, "scale > 0"),
        (Gamma(rate=-1.0), 1, "rate >= 0"),
    ],
)
def test_invalid_priors_fail_with_the_key(prior, q, msg):
    with pytest.raises(PlanError, match=msg):
        prior.penalty_fn(q)


@pytest.fixture(scope="module")
def hsb10():
    hsb = load_example("hsb")
    return hsb[hsb["school"].isin(sorted(hsb["school"].unique())[:10])]


def test_prior_on_an_unknown_factor_fails(hsb10):
    with pytest.raises(PlanError, match="'class' is not a grouping factor"):
        fit_lmm("mAch ~ ses + (1 | school)", hsb10, prior={"by_group": {"class": "gamma"}})


def test_api_fit_passes_the_prior_and_the_mode_differs_from_reml(hsb10):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = mlmpipe.fit("mAch ~ ses + (1 | school)", hsb10)
        modal = mlmpipe.fit("mAch ~ ses + (1 | school)", hsb10, prior="blme")
    assert modal.theta[0] > plain.theta[0]  # the gamma(2.5, 0) pulls the SD up
    pen = -3 * math.log(modal.theta[0])
    assert modal.penalised_criterion == pytest.approx(modal.criterion + pen, abs=1e-9)
    assert "posterior mode" in modal.optsum.method
    d = modal.to_dict(include_ranef=False)
    assert (
        d["prior"] == "every term: Wishart (df q + 2.5, infinite scale) on the relative covariance"
    )
    assert d["penalised_criterion"] == modal.penalised_criterion
    assert "prior" not in plain.to_dict(include_ranef=False)
    with pytest.raises(PlanError, match="estimation.prior"):
        mlmpipe.fit("mAch ~ ses + (1 | school)", hsb10, backend="statsmodels", prior="blme")


def test_plan_estimation_method_and_prior():
    base = {
        "backend": "mlmpipe",
        "estimators": ["reml"],
        "family": "gaussian",
        "link": None,
        "nagq": 1,
        "df_method": "satterthwaite",
    }
    assert EstimationSection.from_config(base).fit_prior is None
    est = EstimationSection.from_config(
        {**base, "method": "bayes_modal", "prior": {"type": "gamma", "shape": 2}}
    )
    assert resolve_prior(est.fit_prior).cov == Gamma(shape=2)
    assert EstimationSection.from_config({**base, "method": "bayes_modal"}).fit_prior == "blme"


PLAN_FILE = Path(__file__).resolve().parents[2] / "config" / "analysis.yaml"


@pytest.mark.parametrize(
    "prior",
    [
        None,
        "invwishart",
        {"type": "gamma", "shape": 2, "rate": 0.5, "parameter": "var"},
        {"cov": "wishart", "by_group": {"school": {"type": "half_cauchy", "scale": 2}}},
        {"cov": "blme", "fixef": {"type": "normal", "sd": [10, 2.5]}},
    ],
)
def test_plan_accepts_bayes_modal(prior):
    cfg = yaml.safe_load(PLAN_FILE.read_text())
    est = cfg.setdefault("estimation", {})
    est["method"] = "bayes_modal"
    if prior is not None:
        est["prior"] = prior
    plan = Plan.from_config(cfg)
    spec = resolve_prior(plan.estimation.fit_prior)
    assert isinstance(spec, PriorSpec)
    assert plan.to_config()["estimation"]["method"] == "bayes_modal"


def test_plan_without_the_keys_keeps_its_config():
    plan = Plan.from_config(yaml.safe_load(PLAN_FILE.read_text()))
    assert "method" not in plan.to_config()["estimation"]
    assert plan.estimation.fit_prior is None


@pytest.mark.parametrize(
    "edit,expected",
    [
        ({"method": "bayes"}, "estimation.method"),
        ({"method": "bayes_modal", "prior": {"type": "gamma", "rate": -1}}, "estimation.prior"),
        ({"method": "bayes_modal", "prior": {"type": "lognormal"}}, "estimation.prior"),
    ],
)
def test_plan_rejects_bad_bayes_keys(edit, expected):
    cfg = yaml.safe_load(PLAN_FILE.read_text())
    cfg.setdefault("estimation", {}).update(edit)
    with pytest.raises(PlanError) as err:
        Plan.from_config(cfg)
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_fixef_normal_variances_follow_blme():
    assert FixefNormal().variances(4).tolist() == [100.0, 6.25, 6.25, 6.25]
    assert FixefNormal(sd=2.0).variances(3).tolist() == [4.0, 4.0, 4.0]
    assert FixefNormal(sd=[1, 2, 3]).variances(3).tolist() == [1.0, 4.0, 9.0]
    with pytest.raises(PlanError, match="estimation.prior.fixef: normal sd has 3 values"):
        FixefNormal(sd=[1, 2, 3]).variances(4)
    with pytest.raises(PlanError, match="positive"):
        FixefNormal(sd=[0.0]).variances(2)
    with pytest.raises(PlanError, match="estimation.prior.fixef: allowed: normal"):
        resolve_prior({"fixef": "laplace"})


def test_fixef_prior_shrinks_the_lmm_coefficients(hsb10):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flat = fit_lmm("mAch ~ ses + (1 | school)", hsb10, prior="blme")
        tight = fit_lmm(
            "mAch ~ ses + (1 | school)",
            hsb10,
            prior={"fixef": {"type": "normal", "sd": [0.1, 0.01]}},
        )
    assert np.all(np.abs(tight.beta) < 0.5 * np.abs(flat.beta))


def test_cli_fit_prior_gives_the_api_mode(hsb10, tmp_path):
    """``mlmpipe fit --prior blme`` (and a JSON spec) is ``mlmpipe.fit(..., prior=)``; a malformed
    JSON spec is a one-line error naming --prior."""
    import json
    import subprocess
    import sys

    csv = tmp_path / "hsb10.csv"
    hsb10.to_csv(csv, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api = mlmpipe.fit("mAch ~ ses + (ses | school)", hsb10, prior="blme")
    for prior in ("blme", '{"type": "wishart"}'):
        out = tmp_path / "fit.json"
        cmd = [sys.executable, "-m", "mlmpipe.cli", "fit", "mAch ~ ses + (ses | school)"]
        cmd += ["--data", str(csv), "--prior", prior, "--json", str(out)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        d = json.loads(out.read_text())
        assert d["theta"] == pytest.approx(list(api.theta), rel=1e-8)
        assert "penalised_criterion" in d
    cmd = [sys.executable, "-m", "mlmpipe.cli", "fit", "mAch ~ ses + (1 | school)"]
    res = subprocess.run(
        cmd + ["--data", str(csv), "--prior", "{type: gamma"], capture_output=True, text=True
    )
    assert res.returncode != 0 and "--prior: not valid JSON" in res.stderr
    assert "Traceback" not in res.stderr


def test_prior_descriptions_spell_out_each_prior():
    from mlmpipe.engine.priors import FixefNormal, Gamma, HalfT, PriorSpec

    text = PriorSpec(
        cov=HalfT(df=1, scale=2.0), by_group={"class": Gamma()}, fixef=FixefNormal()
    ).describe()
    assert text == (
        "every term: half-Cauchy (scale 2) on each relative SD; class: gamma (shape 2.5, rate 0)"
        " on each relative SD; fixed effects: normal(0, SD 10, 2.5)"
    )
    assert (
        PriorSpec(cov=HalfT()).describe()
        == "every term: half-t (df 3, scale 1) on each relative SD"
    )
