"""The preregistered convergence ladder (mlmpipe.ladder) on the HSB example and on formulas."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import mlmpipe
from mlmpipe.errors import EstimationError, PlanError
from mlmpipe.formula import edit, parse_formula
from mlmpipe.formula.parse import deparse
from mlmpipe.ladder import (
    check_convergence_spec,
    continuous_predictors,
    fit_with_ladder,
    unresolved_message,
)


def random_bars(f):
    """The bars of ``f`` as written: (left-hand side operands, ``||``?, group)."""
    return [
        SimpleNamespace(terms=[deparse(a.node) for a in b.lhs], double=b.double, group=b.group_name)
        for b in parse_formula(f).bars
    ]


def uncorrelated(f):
    new = edit.uncorrelated(parse_formula(f))
    return None if new is None else new.formula


def drop_effect(f, group, effect, data):
    new = edit.drop_random_effect(parse_formula(f), group, effect, data.columns)
    return None if new is None else new.formula


# disclim is a school-level variable: a random slope of it across schools is not identified and
# its variance is estimated as 0 (singular fit), the textbook case for the ladder.
SINGULAR = "mAch ~ cses + disclim + (1 + disclim | school)"


@pytest.fixture(scope="module")
def hsb():
    from mlmpipe.data.example import load_example

    df = load_example()
    df["cses"] = df["ses"] - df.groupby("school")["ses"].transform("mean")
    return df


def test_formula_surgery():
    f = "y ~ x + (1 + x + z | g) + (1 | h)"
    bars = random_bars(f)
    assert [(b.terms, b.double, b.group) for b in bars] == [
        (["1", "x", "z"], False, "g"),
        (["1"], False, "h"),
    ]
    assert uncorrelated(f) == "y ~ x + (1 + x + z || g) + (1 | h)"
    assert uncorrelated("y ~ x + (1 | g)") is None
    data = pd.DataFrame({"f": ["a", "b"], "x": [1.0, 2.0]})
    assert drop_effect(f, "g", "x", data) == "y ~ x + (1 + z | g) + (1 | h)"
    assert drop_effect(f, "g", "(Intercept)", data) == "y ~ x + (x + z + 0 | g) + (1 | h)"
    assert drop_effect(f, "h", "(Intercept)", data) == "y ~ x + (1 + x + z | g)"
    assert drop_effect("y ~ (1 + f || g)", "g.1", "fb", data) == "y ~ (1 | g)"
    assert drop_effect("y ~ x + (1 | g)", "g", "(Intercept)", data) is None
    assert drop_effect(f, "g", "w", data) is None


def test_continuous_predictors_excludes_outcome_groups_and_binary():
    df = pd.DataFrame(
        {"y": [1.0, 2, 3, 4], "x": [0.1, 0.5, 0.9, 2], "b": [0, 1, 0, 1], "g": [1, 1, 2, 2]}
    )
    assert continuous_predictors("y ~ x + b + (x | g)", df) == ["x"]


def test_bad_convergence_spec_names_the_key():
    with pytest.raises(PlanError, match="convergence.rungs: 'pray'"):
        check_convergence_spec({"rungs": ["pray"]})


def test_clean_fit_stays_as_planned(hsb):
    lad = fit_with_ladder("mAch ~ cses + (1 | school)", hsb)
    assert lad.rung == "as planned" and lad.resolved
    assert [d["rung"] for d in lad.decisions] == ["as planned"]


@pytest.mark.filterwarnings("ignore")
def test_singular_slope_ends_at_dropping_the_smallest_variance(hsb):
    assert mlmpipe.fit(SINGULAR, hsb).singular
    lad = fit_with_ladder(SINGULAR, hsb)
    assert [d["rung"] for d in lad.decisions] == [
        "as planned",
        "rescale",
        "restart",
        "optimizer",
        "uncorrelated",
        "drop_smallest_variance",
    ]
    assert [d["outcome"] for d in lad.decisions] == ["singular"] * 5 + ["ok"]
    assert lad.rung == "drop_smallest_variance" and lad.resolved
    assert lad.formula == "mAch ~ cses + disclim + (1 | school)"
    assert not lad.result.singular and lad.rescaled == {}  # rescaling did not help: undone
    assert lad.decisions[3]["optimizer"] == "cobyqa"
    # same numbers as fitting the final model directly: the ladder is a pure function of data+plan
    direct = mlmpipe.fit(lad.formula, hsb).to_dict()
    assert lad.result.to_dict()["deviance"] == pytest.approx(direct["deviance"], rel=1e-12)


@pytest.mark.filterwarnings("ignore")
def test_registered_rungs_only_and_unresolved_keeps_the_planned_model(hsb):
    lad = fit_with_ladder(SINGULAR, hsb, convergence={"rungs": ["optimizer", "uncorrelated"]})
    assert [d["rung"] for d in lad.decisions] == [
        "as planned",
        "optimizer",
        "uncorrelated",
        "unresolved",
    ]
    assert not lad.resolved and lad.formula == SINGULAR and lad.result.singular
    none = fit_with_ladder(SINGULAR, hsb, convergence={"rungs": []})
    assert [d["rung"] for d in none.decisions] == ["as planned"] and not none.resolved
    # singular fits tolerated by the plan: no ladder
    tol = fit_with_ladder(SINGULAR, hsb, convergence={"triggers": ["nonconvergence"]})
    assert tol.resolved and tol.rung == "as planned"
    msg = unresolved_message(lad.to_dict())
    assert "unresolved (singular after optimizer, uncorrelated)" in msg
    assert "convergence.on_unresolved: warn" in msg and unresolved_message(tol.to_dict()) is None
    for rungs, tried in ((["uncorrelated"], "uncorrelated"), ([], "no rung")):
        conv = {"rungs": rungs, "on_unresolved": "error"}
        with pytest.raises(EstimationError, match=f"singular after {tried}\\); convergence"):
            fit_with_ladder(SINGULAR, hsb, convergence=conv)
    with pytest.raises(PlanError, match="convergence.on_unresolved: 'stop' is not allowed"):
        check_convergence_spec({"on_unresolved": "stop"})


def test_engine_optimizer_option(hsb):
    f = "mAch ~ cses + (1 + cses | school)"
    a = mlmpipe.fit(f, hsb).to_dict()
    b = mlmpipe.fit(f, hsb, optimizer="cobyqa").to_dict()
    assert a["optimizer"]["method"] == "BOBYQA" and b["optimizer"]["method"] == "COBYQA"
    assert b["deviance"] == pytest.approx(a["deviance"], abs=2e-6)  # measured 7e-12
    c = mlmpipe.fit(f, hsb, theta0=np.array([0.5, 0.1, 0.5])).to_dict()
    assert c["optimizer"]["theta_start"] == [0.5, 0.1, 0.5]
    with pytest.raises(PlanError, match="optimizer: 'lbfgs'"):
        mlmpipe.fit(f, hsb, optimizer="lbfgs")


def test_decision_log_counts_rungs_and_flags_imputations_ending_at_different_models():
    from mlmpipe.ladder import decision_log
    from mlmpipe.prereg.tables import decision_summary
    from mlmpipe.record import FitRecord

    def fit(formula, rung):
        return FitRecord.from_dict(
            {
                "model": "m3",
                "estimator": "reml",
                "formula": formula,
                "planned_formula": "y ~ (x | g)",
                "ladder": {
                    "used_rung": rung,
                    "resolved": True,
                    "formula": formula,
                    "decisions": [],
                },
            }
        )

    log = decision_log(
        {
            "reports/fits/m3/reml/imp1.json": fit("y ~ (x | g)", "as planned"),
            "reports/fits/m3/reml/imp2.json": fit("y ~ (1 | g)", "drop_smallest_variance"),
        }
    )
    assert log["summary"] == {"as planned": 1, "drop_smallest_variance": 1}
    assert [f["imputation"] for f in log["fits"]] == [1, 2]
    assert log["inconsistent"] == [
        {"model": "m3", "estimator": "reml", "formulas": ["y ~ (1 | g)", "y ~ (x | g)"]}
    ]
    assert "different models" in decision_summary(log)


class _FakeFit:
    """A fit function for the ladder policy: singular while the formula has a ``disclim`` slope;
    records every call (formula text and options)."""

    def __init__(self):
        self.calls = []

    def __call__(self, formula, data, **opts):
        self.calls.append((formula, opts))
        singular = "disclim |" in formula or "disclim ||" in formula
        random = [
            {"group": "school", "term1": "(Intercept)", "term2": None, "vcov": 8.0},
            {"group": "school", "term1": "disclim", "term2": None, "vcov": 0.0},
            {"group": "Residual", "term1": None, "term2": None, "vcov": 36.0},
        ]
        d = {
            "converged": True,
            "singular": singular,
            "deviance": 1.0,
            "warnings": [],
            "optimizer": {"theta_start": [1.0, 0.0, 1.0], "theta_end": [0.4, 0.1, 0.0]},
            "random": random,
        }
        return SimpleNamespace(to_dict=lambda: d)


def test_the_ladder_is_a_policy_given_the_fit_function(hsb):
    from mlmpipe.ladder import Ladder

    fake = _FakeFit()
    lad = Ladder.from_plan(None).run(fake, parse_formula(SINGULAR), hsb)
    assert lad.rung == "drop_smallest_variance" and lad.resolved
    assert lad.formula == "mAch ~ cses + disclim + (1 | school)" == lad.spec.formula
    assert [f for f, _ in fake.calls] == [SINGULAR] * 4 + [
        "mAch ~ cses + disclim + (1 + disclim || school)",
        "mAch ~ cses + disclim + (1 | school)",
    ]
    assert fake.calls[2][1]["theta0"].tolist() == [0.9, 0.1, 0.5]  # the engine's restart point
    assert fake.calls[3][1] == {"optimizer": "cobyqa"}  # the engine's next optimizer
    # a fit function that cannot take theta0/optimizer: the numerical rungs say why
    fake = _FakeFit()
    lad = Ladder.from_plan(None).run(fake, SINGULAR, hsb, numerical="not available here")
    assert [d["outcome"] for d in lad.decisions][2:4] == ["not applicable: not available here"] * 2
