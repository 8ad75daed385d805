"""The multiverse's ``missing`` dimension with multiple imputation and delta adjustment
(mlmpipe.missing.multiverse): a specification imputes the variables of its model, fits every
imputed data set and pools the focal estimate by Rubin's rules."""

import numpy as np
import pytest

from mlmpipe.missing.multiverse import DEFAULT_M, missing_definition
from mlmpipe.plan import Plan
from mlmpipe.sensitivity import run_specification

from .conftest import find_spec

FOCAL = "cses:sectorCatholic"


def plan_with(config, **missing):
    config["missing"] = missing
    config["sensitivity"]["dimensions"]["missing"] = ["listwise", "imputation", "delta"]
    config["sensitivity"]["subset"] = [{"missing": "imputation"}, {"missing": "delta"}]
    return Plan.from_config(config)


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
    lw = sens.definition(find_spec(sens).id)
    mi = sens.definition(find_spec(sens, missing="imputation").id)
    assert "missing" not in lw and mi["missing"]["m"] == DEFAULT_M  # listwise params unchanged
    mi["missing"] = {**mi["missing"], "m": 3, "iterations": 4}  # keep the test fast
    a, b = run_specification(holes, lw), run_specification(holes, mi)
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
    d = sens.definition(find_spec(sens, missing="delta").id)
    res = run_specification(holes, d)
    assert res["status"] == "failed" and "missing.delta.grid" in res["reason"]


def test_delta_specification_shifts_the_imputed_outcome(config, holes):
    plan = plan_with(
        config, method="multiple_imputation", m=3, iterations=4, delta={"grid": [-1, 2]}
    )
    spec = missing_definition(plan)
    assert spec["m"] == 3 and spec["delta"] == 2.0 and ["ses", "sector"] in spec["interactions"]
    sens = plan.sensitivity
    mi = run_specification(holes, sens.definition(find_spec(sens, missing="imputation").id))
    de = run_specification(holes, sens.definition(find_spec(sens, missing="delta").id))
    assert mi["status"] == de["status"] == "ok"
    # same imputations (same seed), outcome shifted up by 2 SD where imputed: the intercept moves
    # up by about 2 SD x the share of imputed outcomes, the slopes much less
    share = holes["mAch"].isna().mean()
    shift = 2 * holes["mAch"].std() * share
    b0 = {r["term"]: r["estimate"] for r in mi["fixed"]}
    b1 = {r["term"]: r["estimate"] for r in de["fixed"]}
    assert b1["(Intercept)"] - b0["(Intercept)"] == pytest.approx(shift, rel=0.5)


def test_only_imputing_specifications_depend_on_the_missing_code(config):
    from mlmpipe.sensitivity.grid import spec_code

    plan = plan_with(config, method="listwise")
    sens = plan.sensitivity
    assert spec_code(plan, find_spec(sens).id) == []
    files = spec_code(plan, find_spec(sens, missing="imputation").id)
    assert any(f.endswith("missing/mi_chained.py") for f in files)
    assert any(f.endswith("missing/multiverse.py") for f in files)
