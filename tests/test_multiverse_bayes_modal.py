"""The multiverse's Bayesian-modal options (issue 18): ``estimator: bayes_modal`` fits the
posterior mode with the plan's criterion, and ``prior: [default, wider]`` varies its prior;
the prior is "-" (not applicable) for likelihood fits, and plans without the ``prior``
dimension keep their specification IDs."""

import json
from pathlib import Path

import pytest
import yaml

import mlmpipe
from mlmpipe.engine.priors import Gamma, HalfT, InvWishart, Wishart, resolve_prior, widened
from mlmpipe.errors import PlanError
from mlmpipe.plan import Plan, load_plan

ROOT = Path(__file__).resolve().parents[1]


def _cfg(dims: dict) -> dict:
    cfg = yaml.safe_load((ROOT / "config/analysis.yaml").read_text())
    cfg["sensitivity"]["enabled"] = True
    cfg["sensitivity"]["dimensions"] = dims
    cfg["sensitivity"].pop("subset", None)
    return cfg


def test_estimator_bayes_modal_variant_fits_the_posterior_mode_with_reml():
    plan = load_plan(ROOT / "config/analysis.yaml")
    bm = plan.with_choices(estimator="bayes_modal")
    fit = json.loads(bm.slice_fit("m4_cross", "reml"))
    assert bm.estimators == ("reml",) and fit["prior"] == "blme"
    assert "prior" not in json.loads(plan.slice_fit("m4_cross", "reml"))
    wide = plan.with_choices(estimator="bayes_modal", prior="wider")
    assert json.loads(wide.slice_fit("m4_cross", "reml"))["prior"] == {
        "cov": "wishart",
        "wider": True,
    }
    with pytest.raises(PlanError, match="^with_choices: prior=wider varies the prior"):
        plan.with_choices(prior="wider")


def test_prior_dimension_is_not_applicable_to_likelihood_fits():
    cfg = _cfg({"estimator": ["reml", "bayes_modal"], "prior": ["default", "wider"]})
    plan = Plan.from_config(cfg)
    labels = [dict(s.choices) for s in plan.sensitivity.specifications]
    pairs = [(c["estimator"], c["prior"]) for c in labels]
    assert pairs == [("reml", "-"), ("bayes_modal", "default"), ("bayes_modal", "wider")]


def test_plans_without_the_prior_dimension_keep_their_ids():
    plan = load_plan(ROOT / "config/analysis.yaml")
    cfg = _cfg(dict(yaml.safe_load((ROOT / "config/analysis.yaml").read_text())["sensitivity"]
                    .get("dimensions", {})))  # fmt: skip
    assert "prior" not in Plan.from_config(cfg).sensitivity.dimensions
    assert "prior" not in json.dumps(plan.to_config()["sensitivity"])


def test_wider_prior_rules():
    assert widened(Wishart(), 2) == Wishart(df=4.0, scale=None)  # q + 2: -2 sum log t_ii
    assert widened(Gamma(shape=2.5, rate=0.0), 1).shape == 2.0
    assert widened(Gamma(shape=3.0, rate=1.0), 1).rate == 0.5
    assert widened(HalfT(df=1, scale=2.0), 3).scale == 4.0
    assert widened(InvWishart(df=3.0, scale=2.0), 2).scale == 8.0  # x4 on a covariance scale
    spec = resolve_prior(
        {"cov": "half_t", "fixef": {"type": "normal", "sd": [10, 2.5]}, "wider": True}
    )
    assert spec.wider and spec.fixef.sd == [20.0, 5.0]


def test_wider_prior_pulls_less_than_the_default():
    """On the boundary case (first 10 HSB schools: REML puts the intercept-slope correlation at
    +1) the weaker prior's mode lies between the REML fit and blme's default mode."""
    from mlmpipe.data.example import load_example

    d = load_example("hsb10")
    f = "mAch ~ ses + (ses | school)"
    cor = {}
    for name, prior in (
        ("reml", None),
        ("default", "blme"),
        ("wider", {"cov": "wishart", "wider": True}),
    ):
        res = mlmpipe.fit(f, d, prior=prior)
        vc = res.varcorr()
        cor[name] = float(vc.loc[vc.term2 == "ses", "sdcor"].iloc[0])
    assert cor["reml"] > 0.9999
    assert cor["default"] < cor["wider"] < 0.99
