"""Ordinal outcomes in the analysis plan: family/link validation when the plan is read, and the
validate step's check that a planned ordinal outcome has few ordered (numeric) categories."""

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlmpipe.data.checks import validate_data
from mlmpipe.errors import DataValidationError, PlanError
from mlmpipe.plan import Plan

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "examples" / "chem97_ordinal.yaml"


@pytest.fixture
def cfg():
    return yaml.safe_load(EXAMPLE.read_text())


def test_example_plan_reads_with_logit_default_and_the_clmm_fixture_model(cfg):
    del cfg["estimation"]["link"]
    plan = Plan.from_config(cfg)
    assert plan.glmm_options() == {"family": "ordinal", "link": None, "nagq": 1}
    assert plan.model("m1_gcse").formula == "score ~ 1 + gcsecnt + (1 | school)"
    fspec = json.loads(plan.slice_fit("m1_gcse", "ml"))
    assert fspec["family"] == "ordinal"
    assert json.loads(plan.slice_validate())["family"] == "ordinal"


def test_probit_link_is_accepted(cfg):
    cfg["estimation"]["link"] = "probit"
    assert Plan.from_config(cfg).glmm_options()["link"] == "probit"


@pytest.mark.parametrize("link", ["cloglog", "log", "identity"])
def test_a_link_the_family_does_not_have_names_the_key(cfg, link):
    cfg["estimation"]["link"] = link
    with pytest.raises(PlanError) as err:
        Plan.from_config(cfg)
    msg = str(err.value)
    assert msg.startswith(f"estimation.link: {link!r} is not available for family 'ordinal'")
    assert "allowed: logit, probit" in msg and "\n" not in msg


def test_binomial_and_gaussian_links_are_checked_too(cfg):
    cfg["estimation"].update(family="binomial", link="log")
    with pytest.raises(PlanError, match=r"^estimation\.link: 'log' .* 'binomial'"):
        Plan.from_config(copy.deepcopy(cfg))
    gauss = yaml.safe_load((ROOT / "config" / "analysis.yaml").read_text())
    gauss["estimation"]["link"] = "logit"
    with pytest.raises(PlanError, match=r"^estimation\.link: 'logit' .* 'gaussian'"):
        Plan.from_config(gauss)


def test_reml_is_refused_for_ordinal(cfg):
    cfg["estimation"]["estimators"] = ["reml", "ml"]
    with pytest.raises(PlanError, match=r"^estimation\.estimators: family 'ordinal' has no REML"):
        Plan.from_config(cfg)


def test_gaussian_plans_keep_their_validate_slice(cfg):
    gauss = yaml.safe_load((ROOT / "config" / "analysis.yaml").read_text())
    assert "family" not in json.loads(Plan.from_config(gauss).slice_validate())
    cfg["estimation"]["family"] = "binomial"
    cfg["estimation"]["link"] = None
    assert "family" not in json.loads(Plan.from_config(cfg).slice_validate())


def _data(score) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = len(score)
    return pd.DataFrame(
        {
            "school": np.repeat(np.arange(n // 5), 5),
            "score": score,
            "gcsecnt": rng.normal(size=n),
            "gcsescore": rng.normal(6, 1, size=n),
            "gender": rng.choice(["M", "F"], size=n),
        }
    )


def _vspec(cfg) -> dict:
    return json.loads(Plan.from_config(cfg).slice_validate())


def test_numeric_categories_pass_and_are_reported_in_order(cfg):
    clean, report = validate_data(_data(np.tile([10, 0, 4, 2, 8, 6], 10)), _vspec(cfg))
    row = next(c for c in report["checks"] if c["name"] == "outcome_ordinal")
    assert row["status"] == "ok" and "[0, 2, 4, 6, 8, 10]" in row["message"]
    assert clean["score"].tolist()[:2] == [10, 0]  # raw values kept


def test_a_continuous_outcome_is_not_ordinal(cfg):
    score = np.linspace(0, 10, 60)
    with pytest.raises(DataValidationError) as err:
        validate_data(_data(score), _vspec(cfg))
    msg = str(err.value)
    assert msg.startswith("outcome.name: ordinal outcome 'score' has 60 distinct values")
    assert "\n" not in msg


def test_a_single_category_is_not_ordinal(cfg):
    with pytest.raises(DataValidationError, match="'score' needs at least two observed categories"):
        validate_data(_data(np.full(60, 4)), _vspec(cfg))


def test_text_labels_are_refused_naming_the_column(cfg):
    score = np.tile(["low", "mid", "high"], 20)
    with pytest.raises(
        DataValidationError, match=r"^outcome\.name: outcome 'score' is not numeric"
    ):
        validate_data(_data(score), _vspec(cfg))


def test_chem97_example_is_the_clmm_fixture_subset():
    from mlmpipe.data.example import load_example

    df = load_example("chem97")
    assert len(df) == 2100 and df["school"].nunique() == 208 and df["lea"].max() == 20
    assert sorted(df["score"].unique()) == [0, 2, 4, 6, 8, 10]
    assert list(df["gender"].cat.categories) == ["M", "F"]  # R's level order: genderF
