"""The multiverse's ``missing`` dimension with multiple imputation and delta adjustment: a
specification runs the main missing-data step of its variant plan (the plan's multilevel
imputation), fits every imputed data set and pools by Rubin's rules."""

from dataclasses import replace

import numpy as np
import pytest

from mlmpipe.plan import Plan
from mlmpipe.plan.multiverse import MULTIVERSE_M
from mlmpipe.plan.variants import spec_slice
from mlmpipe.sensitivity import run_specification

from .conftest import find_spec

FOCAL = "cses:sectorCatholic"


def plan_with(config, **missing):
    config["missing"] = missing
    config["sensitivity"]["dimensions"]["missing"] = ["listwise", "imputation", "delta"]
    config["sensitivity"]["subset"] = [{"missing": "imputation"}, {"missing": "delta"}]
    return Plan.from_config(config)


def fewer(s, m=3, iterations=4):
    """The slice with fewer imputations and iterations (keeps the test fast)."""
    section = replace(s.missing.missing, m=m, planned_m=m, iterations=iterations)
    return replace(s, missing=replace(s.missing, missing=section))


@pytest.fixture(scope="module")
def holes(hsb_small):
    """hsb_small with MAR holes: math achievement missing more often for low-SES students,
    SES missing more often in some schools (about 12% and 8%)."""
    rng = np.random.default_rng(7)
    df = hsb_small.copy()
    ses = df["ses"].to_numpy()
    df.loc[rng.random(len(df)) < 1 / (1 + np.exp(2.5 + 1.2 * ses)), "mAch"] = np.nan
    school_rate = df.groupby("school")["school"].transform(lambda s: rng.uniform(0, 0.16))
    df.loc[(rng.random(len(df)) < school_rate) & df["mAch"].notna(), "ses"] = np.nan
    return df


def focal(res):
    return next(r for r in res["fixed"] if r["term"] == FOCAL)


def test_listwise_and_imputation_specifications_both_estimate_the_focal(config, holes):
    plan = plan_with(config, method="listwise")
    sens = plan.sensitivity
    assert [s.choices["missing"] for s in sens.specifications] == [
        "listwise",
        "imputation",
        "delta",
    ]
    lw = spec_slice(plan, find_spec(sens).id)
    mi = spec_slice(plan, find_spec(sens, missing="imputation").id)
    assert lw.missing.missing.method == "listwise"
    assert lw.missing == plan.missing_slice()  # the main analysis's own missing step
    assert mi.missing.missing.imputes and mi.missing.missing.m == MULTIVERSE_M
    a, b = run_specification(holes, lw), run_specification(holes, fewer(mi))
    assert a["status"] == b["status"] == "ok", (a.get("reason"), b.get("reason"))
    fa, fb = focal(a), focal(b)
    assert "imputations" not in a and b["imputations"] == 3
    assert np.isfinite(fb["estimate"]) and fb["se"] > 0 and 0 < fb["fmi"] < 1 and fb["df"] > 2
    # same target, different data: the pooled estimate is near the complete-case one
    assert abs(fb["estimate"] - fa["estimate"]) < 2 * fa["se"]
    assert b["nobs"] == len(holes) > a["nobs"]  # every row analysed after imputation
    # the multiverse summary takes both (its table has one row per specification)
    from mlmpipe.sensitivity.summary import summarize

    summary, table = summarize([a, b], sens.summary_definition())
    assert list(table["missing"]) == ["listwise", "imputation"]
    assert table["estimate"].notna().all()
    # a plan without a delta grid cannot run the delta option: failed with its reason
    res = run_specification(holes, spec_slice(plan, find_spec(sens, missing="delta").id))
    assert res["status"] == "failed" and "missing.delta.grid" in res["reason"]


def test_delta_specification_shifts_the_imputed_outcome(config, holes):
    plan = plan_with(
        config, method="multiple_imputation", m=3, iterations=4, delta={"grid": [-1, 2]}
    )
    assert plan.delta_extreme == 2.0
    sens = plan.sensitivity
    mi = spec_slice(plan, find_spec(sens, missing="imputation").id)
    de = spec_slice(plan, find_spec(sens, missing="delta").id)
    assert mi.missing == plan.missing_slice()  # the plan imputes: the main step's imputations
    assert de.missing.missing.delta.grid == (2.0,)
    assert ("ses", "sector") in mi.missing.interactions  # imputed with the model's products
    # the main delta analysis at the grid's extreme gives the delta specification's estimate
    from mlmpipe.missing.delta import delta_analysis
    from mlmpipe.sensitivity.specification import prepare

    main = delta_analysis(prepare(holes, mi), "mAch", mi.fit.formula, FOCAL, [2.0])
    at2 = next(r for r in main["rows"] if r["delta"] == 2.0)
    mi, de = run_specification(holes, mi), run_specification(holes, de)
    assert focal(de)["estimate"] == pytest.approx(at2["estimate"], rel=1e-10)
    assert focal(de)["se"] == pytest.approx(at2["se"], rel=1e-10)
    assert mi["status"] == de["status"] == "ok", (mi.get("reason"), de.get("reason"))
    # same imputations (same seed), outcome shifted up by 2 SD where imputed: the intercept moves
    # up by about 2 SD x the share of imputed outcomes, the slopes much less
    share = holes["mAch"].isna().mean()
    shift = 2 * holes["mAch"].std() * share
    b0 = {r["term"]: r["estimate"] for r in mi["fixed"]}
    b1 = {r["term"]: r["estimate"] for r in de["fixed"]}
    assert b1["(Intercept)"] - b0["(Intercept)"] == pytest.approx(shift, rel=0.5)
