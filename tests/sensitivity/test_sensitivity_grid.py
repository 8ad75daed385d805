"""The plan's sensitivity section -> specifications with stable IDs, and its bad inputs."""

import pytest

from mlmpipe.errors import PlanError
from mlmpipe.plan import Plan, targets
from mlmpipe.plan.variants import influence_slice, spec_slice
from mlmpipe.sensitivity.grid import MLM_ONLY, NOT_APPLICABLE, spec_id


def test_example_grid_has_66_specifications_without_duplicates(example_plan):
    sens = example_plan.sensitivity
    # mixed model: 3 centerings x 3 random x 2 estimators x 2 outlier options = 36;
    # 5 alternative estimators x 3 centerings x 2 outlier options = 30 (no random/estimator/df)
    assert len(sens.ids) == 66 == len(set(sens.ids))
    for s in sens.specifications:
        if s.choices["method"] == "mlm":
            assert NOT_APPLICABLE not in s.choices.values()
        else:
            assert all(s.choices[k] == NOT_APPLICABLE for k in MLM_ONLY)
    assert sens.primary.choices == {
        "centering.ses": "group",
        "method": "mlm",
        "random": "slopes",
        "estimator": "reml",
        "df": "satterthwaite",
        "missing": "listwise",
        "outliers": "all",
    }
    assert "reports/sensitivity/summary.json" in targets(example_plan)


def test_adding_an_option_keeps_every_existing_id_and_definition(config, example_plan):
    old = example_plan.sensitivity
    config["sensitivity"]["dimensions"]["df"] = ["satterthwaite", "kenward_roger"]
    plan = Plan.from_config(config)
    new = plan.sensitivity
    assert set(old.ids) < set(new.ids)
    assert len(new.ids) == len(old.ids) + 36  # one more df option for each mixed-model spec
    for sid in old.ids:  # each job's params depend only on its own variant plan: no rerun
        assert spec_slice(example_plan, sid).to_json() == spec_slice(plan, sid).to_json()
    assert influence_slice(example_plan).to_json() == influence_slice(plan).to_json()


def test_spec_id_ignores_not_applicable_choices():
    a = {"method": "gee", "random": NOT_APPLICABLE, "outliers": "all"}
    assert spec_id(a) == spec_id({"method": "gee", "outliers": "all"})
    assert spec_id(a) != spec_id({"method": "gee", "outliers": "drop_influential"})


def test_subset_starts_with_the_primary_and_fills_unnamed_dimensions(config):
    config["sensitivity"]["subset"] = [
        {"method": "gee"},
        {"random": "intercept", "estimator": "ml"},
    ]
    sens = Plan.from_config(config).sensitivity
    assert len(sens.ids) == 3
    assert sens.specifications[1].choices["method"] == "gee"
    assert sens.specifications[1].choices["random"] == NOT_APPLICABLE
    third = sens.specifications[2].choices
    assert (third["random"], third["estimator"], third["centering.ses"]) == (
        "intercept",
        "ml",
        "group",
    )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda s: s["dimensions"].update(random=["slopes", "crossed"]),
            "sensitivity.dimensions.random[1]: 'crossed' is not allowed; allowed values: slopes, intercept, uncorrelated",
        ),
        (
            lambda s: s["dimensions"].update(centering={"ses": ["group", "median"]}),
            "sensitivity.dimensions.centering.ses[1]: 'median' is not allowed; allowed values: group, grand, none",
        ),
        (
            lambda s: s["dimensions"].update(centering={"sx": ["group"]}),
            "sensitivity.dimensions.centering.sx: not a continuous level-1 predictor; allowed: ses",
        ),
        (
            lambda s: s.update(subset=[{"method": "lasso"}]),
            "sensitivity.subset[0].method: 'lasso' is not allowed; allowed values: mlm, ols_cluster, gee, between, within, random_effects",
        ),
        (
            lambda s: s.update(subset=[{"weights": "none"}]),
            "sensitivity.subset[0].weights: unknown dimension; allowed: centering.ses, method, random",
        ),
        (lambda s: s.update(model="m9"), "sensitivity.model: no model named 'm9'"),
        (lambda s: s.update(model="m5"), "sensitivity.model: 'm5' is an explicit formula"),
        (lambda s: s.update(focal=[]), "sensitivity.focal: name at least one focal parameter"),
    ],
)
def test_bad_sensitivity_plan_is_one_line_naming_the_key(config, edit, message):
    config["models"].append({"name": "m5", "formula": "mAch ~ ses + (1 | school)"})
    edit(config["sensitivity"])
    with pytest.raises(PlanError) as err:
        Plan.from_config(config)
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_disabled_multiverse_has_no_specifications_or_targets(config):
    config["sensitivity"]["enabled"] = False
    plan = Plan.from_config(config)
    assert plan.sensitivity.ids == ()
    assert not [t for t in targets(plan) if "sensitivity" in t]
    del config["sensitivity"]
    assert Plan.from_config(config).sensitivity.enabled is False
