"""One specification applied to the HSB data: data choices, estimators, failures, focal check."""

import numpy as np
import pandas as pd
import pytest

import mlmpipe
from mlmpipe.errors import PlanError
from mlmpipe.plan.variants import influence_slice, spec_slice, variant_slice
from mlmpipe.sensitivity import run_specification
from mlmpipe.sensitivity.alternatives import _design, _within, hausman_within_between
from mlmpipe.sensitivity.influence import cluster_influence
from mlmpipe.sensitivity.specification import prepare, rubin

from .conftest import find_spec

FOCAL = "cses:sectorCatholic"


def definition(plan, **choices):
    """The job slice of the specification with these choices (others: the primary's)."""
    return spec_slice(plan, find_spec(plan.sensitivity, **choices).id)


def center(data, s):
    return prepare(data, s)[0]


def formula(s):
    return s.fit.formula if s.method == "mlm" else s.alternative


def with_choices(plan, s, **choices):
    """The slice of ``s`` with some choices replaced (a specification the grid does not hold)."""
    return variant_slice(plan, {**s.choices, **choices}, s.id)


def focal_row(result):
    return next(r for r in result["fixed"] if r["term"] == FOCAL)


def test_primary_specification_is_the_plans_model(example_plan, hsb_small):
    d = definition(example_plan)
    res = run_specification(hsb_small, d)
    assert res["status"] == "ok"
    assert res["formula"] == example_plan.model("m4_cross").formula
    df = hsb_small.assign(meanses=hsb_small.groupby("school")["ses"].transform("mean"))
    df["cses"] = df["ses"] - df["meanses"]
    direct = mlmpipe.fit(res["formula"], df).fixed_table().set_index("term").loc[FOCAL]
    row = focal_row(res)
    assert row["estimate"] == pytest.approx(direct["estimate"], rel=1e-10)
    assert row["se"] == pytest.approx(direct["se"], rel=1e-10)
    assert row["df"] == pytest.approx(direct["df"], rel=1e-8)


def test_centering_choice_rewrites_the_models_column(example_plan, hsb_small):
    ses = hsb_small["ses"]
    grand = center(hsb_small, definition(example_plan, centering__ses="grand"))
    none = center(hsb_small, definition(example_plan, centering__ses="none"))
    group = center(hsb_small, definition(example_plan))
    means = hsb_small.groupby("school")["ses"].transform("mean")
    np.testing.assert_allclose(grand["cses"], ses - ses.mean(), atol=1e-12)
    np.testing.assert_allclose(none["cses"], ses, atol=0)
    np.testing.assert_allclose(group["cses"], ses - means, atol=1e-12)
    for out in (grand, none, group):  # the contextual predictor stays
        np.testing.assert_allclose(out["meanses"], means, atol=1e-12)
    assert "cses" not in hsb_small  # the input is not modified


def test_random_structure_choice_sets_the_random_part(example_plan):
    sens = example_plan
    assert formula(definition(sens, random="intercept")).endswith("+ (1 | school)")
    assert formula(definition(sens, random="uncorrelated")).endswith("+ (1 + cses || school)")
    assert formula(definition(sens, method="gee")).endswith("+ (1 | school)")


def test_unavailable_choices_are_failed_with_reason(example_plan, config, hsb_small):
    d = with_choices(example_plan, definition(example_plan), missing="hot_deck")
    res = run_specification(hsb_small, d)
    assert res["status"] == "failed"
    assert res["reason"].startswith("missing 'hot_deck' is not allowed; allowed: listwise")
    assert "fixed" not in res
    for m in config["models"]:  # the multiverse's model without random slopes
        m.pop("add_random", None)
    plan = mlmpipe.Plan.from_config(config)
    res = run_specification(hsb_small, definition(plan, random="uncorrelated"))
    assert res["status"] == "failed"
    assert res["reason"] == "random=uncorrelated: the base model 'm4_cross' has no random slopes"


def test_kenward_roger_choice_is_estimated(example_plan, hsb_small):
    """df=kenward_roger runs our Kenward-Roger code (REML); with ML it is failed with the reason."""
    d = with_choices(example_plan, definition(example_plan), df="kenward_roger")
    res = run_specification(hsb_small, d)
    assert res["status"] == "ok", res.get("reason")
    df = hsb_small.assign(meanses=hsb_small.groupby("school")["ses"].transform("mean"))
    df["cses"] = df["ses"] - df["meanses"]
    direct = mlmpipe.fit(res["formula"], df, df_method="kenward_roger").fixed_table()
    row, want = focal_row(res), direct.set_index("term").loc[FOCAL]
    assert row["se"] == pytest.approx(want["se"], rel=1e-10)
    assert row["df"] == pytest.approx(want["df"], rel=1e-8)
    satt = mlmpipe.fit(res["formula"], df).fixed_table().set_index("term").loc[FOCAL]
    assert row["se"] > satt["se"]  # the adjusted SE, not the unadjusted one
    res = run_specification(hsb_small, with_choices(example_plan, d, estimator="ml"))
    assert res["status"] == "failed" and "REML" in res["reason"]


def test_numerical_failure_is_recorded_not_raised(example_plan, hsb_small):
    d = definition(example_plan, method="ols_cluster")
    broken = hsb_small.assign(mAch=np.nan)  # no complete rows left
    res = run_specification(broken, d)
    assert res["status"] == "failed"
    assert res["reason"].startswith("missing.method: listwise deletion leaves no rows")
    assert "fixed" not in res
    one = hsb_small[hsb_small["school"] == hsb_small["school"].iloc[0]]  # a single school
    res = run_specification(one, definition(example_plan))
    assert res["status"] == "failed" and res["reason"]


def test_absent_focal_parameter_names_it_and_the_specification(example_plan, hsb_small):
    d = definition(example_plan, method="ols_cluster")
    d = type(d).from_dict({**d.to_dict(), "focal": ["cses:sectorPublic"]})
    with pytest.raises(
        PlanError, match=rf"'cses:sectorPublic' is not a parameter of specification {d.id}"
    ):
        run_specification(hsb_small, d)


def test_between_estimator_cannot_identify_a_within_cluster_interaction(example_plan, hsb_small):
    res = run_specification(hsb_small, definition(example_plan, method="between"))
    assert res["status"] == "failed"
    assert (
        res["reason"]
        == "focal parameter 'cses:sectorCatholic' is not identified by method 'between'"
    )
    assert "cses" in res["not_identified"]  # group-centred: its cluster means are all 0
    grand = run_specification(
        hsb_small, definition(example_plan, method="between", centering__ses="grand")
    )
    assert (
        grand["status"] == "ok" and "meanses" in grand["not_identified"]
    )  # collinear with mean(cses)


def test_within_estimator_equals_ols_on_cluster_demeaned_data(example_plan, hsb_small):
    d = definition(example_plan, method="within")
    res = run_specification(hsb_small, d)
    assert set(res["not_identified"]) == {"meanses", "sectorCatholic"}  # absorbed
    data = center(hsb_small, d)
    X, y, codes = _design(data, formula(d))
    cols = ["cses", "minrtyYes", "sxMale", FOCAL]
    Xd = X[cols] - X[cols].groupby(codes).transform("mean")
    yd = y - pd.Series(y).groupby(codes).transform("mean").to_numpy()
    beta = np.linalg.lstsq(Xd.to_numpy(), yd, rcond=None)[0]
    assert focal_row(res)["estimate"] == pytest.approx(beta[3], rel=1e-8)


def test_hausman_contrast_matches_its_formula(example_plan, hsb_small):
    d = definition(example_plan, method="random_effects", centering__ses="grand")
    X, y, codes = _design(center(hsb_small, d), formula(d))
    h = hausman_within_between(X, y, codes)
    assert h["terms"] == ["cses", "minrtyYes", "sxMale", FOCAL]
    w, _ = _within(X, y, codes)
    diff = np.array(h["within"]) - np.array(h["between"])
    assert np.array(h["within"]) == pytest.approx(w.params[h["terms"]].to_numpy())
    assert h["statistic"] > 0 and h["df"] == 4 and 0 <= h["p"] <= 1
    assert diff @ diff > 0
    res = run_specification(hsb_small, d)
    assert res["status"] == "ok" and res["hausman"]["statistic"] == pytest.approx(h["statistic"])


def test_rubin_pooling_of_identical_data_sets_is_the_single_result(example_plan, hsb_small):
    """No between-imputation variance: the pooled table of an alternative estimator is the single
    data set's (estimate, SE)."""
    from mlmpipe.sensitivity.alternatives import ols_cluster

    d = definition(example_plan, method="ols_cluster")
    data = center(hsb_small, d)
    table, _ = ols_cluster(data, d.alternative, {"alpha": 0.05})
    pooled = rubin([table, table.copy()]).set_index("term").loc[FOCAL]
    single = table.set_index("term").loc[FOCAL]
    assert pooled["estimate"] == pytest.approx(single["estimate"], rel=1e-12)
    assert pooled["se"] == pytest.approx(single["se"], rel=1e-12)


def test_influence_flags_clusters_above_the_cutoff_and_drop_removes_them(example_plan, hsb_small):
    infl = cluster_influence(hsb_small, influence_slice(example_plan))
    assert len(infl["clusters"]) == 40 and infl["cutoff"] == pytest.approx(4 / 40)
    cooks = dict(zip(infl["clusters"], infl["cooks_distance"], strict=True))
    assert infl["flagged"] == [c for c, v in cooks.items() if v > 4 / 40]
    assert infl["flagged"]  # HSB has influential schools
    # D_j by hand for the most influential school: GLS without it at the full-data theta
    j = max(cooks, key=cooks.get)
    d = definition(example_plan)
    df = center(hsb_small, d)
    full = mlmpipe.fit(infl["formula"], df)
    from mlmpipe.engine.lmm import LinearMixedModel
    from mlmpipe.formula import build_design

    m = LinearMixedModel(build_design(infl["formula"], df[df["school"].astype(str) != j]))
    delta = full.beta - m.beta_from(m.factorize(full.theta))
    assert cooks[j] == pytest.approx(
        delta @ np.linalg.solve(full.vcov, delta) / len(delta), rel=1e-6
    )
    res = run_specification(hsb_small, definition(example_plan, outliers="drop_influential"), infl)
    kept = hsb_small[~hsb_small["school"].astype(str).isin(infl["flagged"])]
    assert res["nobs"] == len(kept) and res["nclusters"] == 40 - len(infl["flagged"])
