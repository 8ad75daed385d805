"""Typed plan: no mutable containers on a Plan, the reporting estimator, and variants
(``Plan.with_choices``) whose slices are those the main steps take."""

import copy
import json
from pathlib import Path

import pytest
import yaml

from mlmpipe.errors import PlanError
from mlmpipe.plan import Plan, load_plan, walk_fields

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ["config/analysis.yaml", *sorted(f"config/examples/{p.name}" for p in (ROOT / "config/examples").glob("*.yaml"))]  # fmt: skip
STEP_SLICES = ("slice_fetch", "slice_validate", "slice_missing", "slice_center", "slice_compare",
               "slice_report", "slice_predictions", "slice_delta")  # fmt: skip


@pytest.fixture
def cfg():
    return yaml.safe_load((ROOT / "config/analysis.yaml").read_text())


@pytest.fixture(scope="module")
def plan():
    return load_plan(ROOT / "config/analysis.yaml")


def slices(p: Plan) -> dict[str, str]:
    out = {name: getattr(p, name)() for name in STEP_SLICES}
    for m in p.model_names:
        for e in ("reml", "ml"):
            out[f"fit/{m}/{e}"] = p.slice_fit(m, e)
    return out


def three_level_config(cfg: dict) -> dict:
    """Students < classes < schools: a class-level predictor, the school level above."""
    for key in ("hypotheses", "sensitivity"):
        cfg.pop(key)
    cfg["levels"].insert(
        1,
        {"name": "class", "id": "classid", "predictors": {"csize": {"centering": "grand"}}},
    )
    cfg["models"] = [
        {"name": "m0"},
        {"name": "m1", "add_fixed": ["cses", "ccsize"], "add_random": {"class": ["cses"]}},
    ]
    return cfg


@pytest.mark.parametrize("path", BUNDLED)
def test_a_plan_holds_no_dict_or_list(path):
    p = load_plan(ROOT / path)
    assert walk_fields(p) == []
    assert walk_fields(p.with_choices(random="intercept", missing="imputation")) == []


def test_walk_fields_finds_a_dict():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Bad:
        x: tuple
        y: dict

    assert walk_fields(Bad((1, [2]), {})) == [("plan.x[1]", list), ("plan.y", dict)]


def test_plan_sections_are_frozen(plan):
    with pytest.raises(AttributeError):
        plan.estimation.estimators = ("ml",)
    with pytest.raises(AttributeError):
        plan.models[0].random.x = 1
    with pytest.raises(TypeError):
        plan.models[-1].random["school"] = ("ses",)


def test_dict_style_reads_of_sections_still_work(plan):
    assert plan.checks["duplicate_rows"] == plan.checks.duplicate_rows == "warn"
    assert plan.missing["delta"]["grid"] == [] and plan.missing["m"] == 0
    assert plan.data["file"] == plan.data.file
    assert plan.config == plan.to_config()


def test_reporting_estimator(cfg):
    assert Plan.from_config(copy.deepcopy(cfg)).reporting_estimator == "reml"
    cfg["estimation"]["estimators"] = ["ml"]
    p = Plan.from_config(cfg)
    assert p.reporting_estimator == "ml" == p.compare_slice().reporting_estimator
    assert json.loads(p.slice_delta())["estimator"] == "ml"
    binary = load_plan(ROOT / "config/examples/hsb_binary.yaml")
    assert binary.reporting_estimator == "ml"


@pytest.mark.parametrize("path", BUNDLED)
def test_a_variant_without_changes_is_the_plan(path):
    p = load_plan(ROOT / path)
    v = p.with_choices()
    assert v == p and v.hash == p.hash and slices(v) == slices(p)
    assert v.sensitivity.ids == p.sensitivity.ids


def test_primary_choices_give_the_plans_own_fit_slices(plan):
    """The multiverse's primary specification as a variant: same data, center and fit slices."""
    choices = {k: v for k, v in plan.sensitivity.primary.choices.items()}
    v = plan.with_choices(**choices)
    for name in ("slice_validate", "slice_missing", "slice_center"):
        assert getattr(v, name)() == getattr(plan, name)()
    est = choices["estimator"]
    assert all(v.slice_fit(m, est) == plan.slice_fit(m, est) for m in plan.model_names)
    assert v.estimators == (est,)


def test_centering_variant_changes_the_center_slice_only(plan):
    v = plan.with_choices(**{"centering.ses": "grand"})
    assert v == plan.with_choices(centering={"ses": "grand"})
    changed = {k for k, s in slices(v).items() if s != slices(plan)[k]}
    assert changed == {"slice_center"}
    center = json.loads(v.slice_center())
    assert center["levels"][0]["predictors"]["ses"] == "grand"
    assert v.model_names == plan.model_names  # formulas keep their column names
    assert v.models == plan.models


def test_estimator_and_df_variants(plan):
    ml = plan.with_choices(estimator="ml")
    assert ml.estimators == ("ml",) and ml.reporting_estimator == "ml"
    assert ml == plan.with_choices(estimation={"estimators": ("ml",)})
    assert ml.slice_fit("m4_cross", "ml") == plan.slice_fit("m4_cross", "ml")
    assert ml.slice_compare() != plan.slice_compare()
    kr = plan.with_choices(df="kenward_roger")
    assert json.loads(kr.slice_fit("m4_cross", "reml"))["df_method"] == "kenward_roger"
    assert "df_method" not in json.loads(kr.slice_fit("m4_cross", "ml"))
    binary = load_plan(ROOT / "config/examples/hsb_binary.yaml")
    with pytest.raises(PlanError, match="^estimation.estimators: family 'binomial' has no REML"):
        binary.with_choices(estimator="reml")


def test_random_structure_variants(plan):
    last = plan.model_names[-1]
    ic = plan.with_choices(random="intercept")
    assert ic.model(last).formula == (
        "mAch ~ 1 + cses + minrty + sx + meanses + sector + cses:sector + (1 | school)"
    )
    unc = plan.with_choices(random="uncorrelated")
    assert unc.model(last).formula.endswith("(1 + cses || school)")
    assert unc.model("m0_null").formula == plan.model("m0_null").formula  # no slopes: unchanged
    assert plan.with_choices(random="slopes") == plan
    assert json.loads(ic.slice_fit(last, "reml"))["formula"] == ic.model(last).formula
    assert ic.slice_missing() == plan.slice_missing() and ic.slice_center() == plan.slice_center()


def test_missing_variants(plan, cfg):
    mi = plan.with_choices(missing="imputation")
    spec = json.loads(mi.slice_missing())
    assert spec["missing"]["method"] == "multiple_imputation" and spec["missing"]["m"] == 5
    assert spec["interactions"] == plan.interaction_pairs()
    assert mi.pooled_imputations == (1, 2, 3, 4, 5) and mi.imputations == tuple(range(6))
    assert plan.with_choices(missing="listwise") == plan
    with pytest.raises(PlanError, match="missing=delta needs missing.delta.grid"):
        plan.with_choices(missing="delta")
    cfg["missing"] = {"method": "multiple_imputation", "m": 3, "delta": {"grid": [-1, 0.5, 2]}}
    imputed = Plan.from_config(cfg)
    assert imputed.with_choices(missing="imputation") == imputed  # the plan's own imputation
    delta = imputed.with_choices(missing="delta")
    assert json.loads(delta.slice_delta())["grid"] == [2.0]
    lw = imputed.with_choices(missing="listwise")
    assert lw.missing.m == 0 and lw.missing.delta.grid == () and lw.pooled_imputations == (0,)
    one = imputed.with_choices(imputation=2)
    assert one.pooled_imputations == (2,) and slices(one) == slices(imputed)
    with pytest.raises(PlanError, match="imputation 7 is not a data set"):
        imputed.with_choices(imputation=7)


def test_outlier_and_method_variants(plan):
    out = plan.with_choices(outliers="drop_influential")
    assert json.loads(out.slice_missing())["outliers"] == {
        "drop_influential": True,
        "cutoff": plan.sensitivity.influence_cutoff,
    }
    changed = {k for k, s in slices(out).items() if s != slices(plan)[k]}
    assert changed == {"slice_missing"}
    assert plan.with_choices(outliers="all") == plan
    assert plan.with_choices(method="gee").method == "gee"
    # choices not applicable to the method ("-") are ignored
    assert plan.with_choices(random="-", estimator="-") == plan


def test_section_overrides_and_bad_choices(plan):
    v = plan.with_choices(checks={"duplicate_rows": "error"}, report={"bootstrap": {"batches": 2}})
    assert v.checks.duplicate_rows == "error" and v.report.bootstrap.batches == 2
    assert v.report.bootstrap.resamples == plan.report.bootstrap.resamples
    assert v.slice_validate() != plan.slice_validate()
    assert v.to_config()["checks"]["duplicate_rows"] == "error" and v.hash != plan.hash
    with pytest.raises(PlanError, match="unknown choice 'weights'"):
        plan.with_choices(weights="none")
    with pytest.raises(PlanError, match="has no field 'estimatorz'"):
        plan.with_choices(estimation={"estimatorz": ("ml",)})
    with pytest.raises(PlanError, match="missing.m: 3 imputations need"):
        plan.with_choices(missing={"m": 3})
    with pytest.raises(PlanError, match="estimator 'gls' is not allowed; allowed: reml, ml"):
        plan.with_choices(estimator="gls")
    with pytest.raises(PlanError, match="checks takes a mapping"):
        plan.with_choices(checks="error")
    with pytest.raises(PlanError, match="no predictor named 'zz'"):
        plan.with_choices(centering={"zz": "grand"})


def test_three_level_plan_variants(cfg):
    p = Plan.from_config(three_level_config(cfg))
    assert [lv.name for lv in p.levels] == ["student", "class", "school"]
    assert p.model("m1").formula == (
        "mAch ~ 1 + cses + ccsize + (1 | school) + (1 + cses | classid)"
    )
    assert p.with_choices() == p
    v = p.with_choices(random="uncorrelated", centering={"ses": "grand"}, missing="imputation")
    assert v.model("m1").formula.endswith("(1 | school) + (1 + cses || classid)")
    center = json.loads(v.slice_center())
    assert [lv["name"] for lv in center["levels"]] == ["student", "class", "school"]
    assert center["levels"][0]["predictors"]["ses"] == "grand"
    assert json.loads(v.slice_missing())["missing"]["method"] == "multiple_imputation"
    assert p.with_choices(random="intercept").model("m1").formula == (
        "mAch ~ 1 + cses + ccsize + (1 | school) + (1 | classid)"
    )
    assert walk_fields(v) == []
