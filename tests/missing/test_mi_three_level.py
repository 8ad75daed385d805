"""Three-level imputation (students in classes in schools), small seeded simulation (fast)."""

import io
import warnings

import numpy as np
import pandas as pd
import pytest

import mlmpipe
from mlmpipe.errors import DataValidationError
from mlmpipe.missing.handle import imputation_spec
from mlmpipe.missing.mi_chained import ImputationSpec, impute_multilevel
from mlmpipe.missing.mi_three_level import build_hierarchy
from mlmpipe.missing.report_section import missing_section
from mlmpipe.steps.data import missing_step, validate_step


def simulate(K=30, C=4, n=10, seed=4):
    """x: student variable with class and school variance; z: class variable with school
    variance; y depends on both. x missing at random given y (~30%), z missing in 40% of classes."""
    rng = np.random.default_rng(seed)
    s = np.repeat(np.arange(K), C * n)
    c = np.repeat(np.arange(K * C), n)
    x = rng.normal(0, 0.7, K)[s] + rng.normal(0, 0.7, K * C)[c] + rng.normal(size=K * C * n)
    z = rng.normal(0, 0.8, K)[np.arange(K * C) // C] + rng.normal(0, 0.6, K * C)
    y = (
        0.5 * x
        + 0.3 * z[c]
        + rng.normal(0, 0.5, K)[s]
        + rng.normal(0, 0.5, K * C)[c]
        + rng.normal(size=len(x))
    )
    full = pd.DataFrame({"school": s + 1, "class": c + 1, "y": y, "x": x, "z": z[c]})
    df = full.copy()
    df.loc[rng.random(len(df)) < 0.6 / (1 + np.exp(-(y - y.mean()))), "x"] = np.nan
    df.loc[(rng.random(K * C) < 0.4)[c], "z"] = np.nan
    return full, df


def iccs(d: pd.DataFrame) -> np.ndarray:
    """ICC of x at class and school level (REML, nested intercepts); school ICC of z (classes)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = mlmpipe.fit("x ~ 1 + (1|school) + (1|class)", d).to_dict()["random"]
        rz = mlmpipe.fit("z ~ 1 + (1|school)", d.drop_duplicates("class")).to_dict()["random"]
    v = {e["group"]: e["vcov"] for e in r}
    vz = {e["group"]: e["vcov"] for e in rz}
    tot = sum(v.values())
    return np.array([v["class"] / tot, v["school"] / tot, vz["school"] / sum(vz.values())])


BASE = dict(outcome="y", m=5, iterations=8, seed=4, ids=("class", "school"))
L1 = {"y": ("continuous", None), "x": ("continuous", None)}


def test_three_level_keeps_the_icc_at_both_levels_where_two_level_imputation_does_not():
    full, df = simulate()
    truth = iccs(full)
    three = ImputationSpec(
        cluster="class", cluster3="school", level1=L1, level2={"z": ("continuous", None)}, **BASE
    )
    by_class = ImputationSpec(
        cluster="class", level1=L1, level2={"z": ("continuous", None)}, **BASE
    )
    by_school = ImputationSpec(
        cluster="school", level1=L1 | {"z": ("continuous", None)}, level2={}, **BASE
    )
    err = {}
    for name, sp in (("3l", three), ("class", by_class), ("school", by_school)):
        sets, info = impute_multilevel(df, sp)
        err[name] = np.mean([iccs(s) for s in sets], 0) - truth
        if name == "3l":
            assert info["methods"]["x"]["model"].startswith("3l.norm (random intercepts")
            assert info["methods"]["z"]["model"].startswith("2l.norm at level 2")
            assert all((s.groupby("class").z.nunique() == 1).all() for s in sets)
    # Seeds 0-5 measured (error of the mean ICC over 5 imputations vs the full data):
    # three-level |error| <= 0.044 for x (both levels) and <= 0.19 for the school ICC of z
    # (seed 4: 0.007); ignoring the schools (class clusters) shrinks the school ICC of z by
    # 0.31-0.48; ignoring the classes (school clusters) shrinks the class ICC of x by 0.06-0.12.
    assert np.abs(err["3l"][:2]).max() < 0.05
    assert abs(err["3l"][2]) < 0.15
    assert err["class"][2] < -0.25 and abs(err["3l"][2]) < abs(err["class"][2]) - 0.15
    assert err["school"][0] < -0.05 and abs(err["3l"][0]) < abs(err["school"][0]) - 0.03


def test_level3_variable_and_the_imputation_spec_use_the_plans_three_levels():
    _, df = simulate(K=12, C=3, n=6, seed=1)
    rng = np.random.default_rng(2)
    df["w"] = rng.normal(size=12)[df.school - 1]
    df.loc[df.school.isin([2, 7]), "w"] = np.nan
    levels = [("student", None, ["x"]), ("class", "class", ["z"]), ("school", "school", ["w"])]
    types = {n: ("continuous", None) for n in ("x", "z", "w")}
    mspec = {"method": "multiple_imputation", "m": 2, "iterations": 3}
    spec = imputation_spec(df, mspec, levels, "y", types, seed=5)
    assert (spec.cluster, spec.cluster3, list(spec.level3)) == ("class", "school", ["w"])
    sets, info = impute_multilevel(df, spec)
    assert info["levels"] == 3 and info["units_per_level"] == [len(df), 36, 12]
    assert info["methods"]["w"]["model"] == "3lonly.norm (level-3 units)"
    for s in sets:
        assert s[["x", "z", "w"]].notna().all().all()
        assert (s.groupby("school").w.nunique() == 1).all()
        assert (s.groupby("class").z.nunique() == 1).all()


def test_not_nested_ids_give_a_one_line_error_naming_the_column():
    _, df = simulate(K=6, C=2, n=5, seed=1)
    bad = df.copy()
    bad.loc[bad.index[:2], "school"] = 6  # class 1 now spans schools 1 and 6
    spec = ImputationSpec(cluster="class", cluster3="school", level1=L1, level2={}, **BASE)
    with pytest.raises(DataValidationError, match=r"ID column 'class' are not nested in 'school'"):
        impute_multilevel(bad, spec)
    with pytest.raises(DataValidationError, match=r"ID column 'school' has 1 missing"):
        impute_multilevel(df.assign(school=df.school.where(df.index != 3)), spec)


def test_hierarchy_means_and_broadcasts_match_pandas():
    _, df = simulate(K=5, C=3, n=4, seed=2)
    H = build_hierarchy(df, ("class", "school"))
    assert H.sizes == (60, 15, 5)
    x = df.y.to_numpy()
    np.testing.assert_allclose(H.means(x, 1, 3), df.groupby("school").y.mean().to_numpy())
    cm = H.means(x, 1, 2)
    np.testing.assert_allclose(H.down(cm, 2, 1), df.groupby("class").y.transform("mean"))
    school_of_class = df.drop_duplicates("class").school.to_numpy() - 1
    np.testing.assert_array_equal(H.up[(2, 3)], school_of_class)


def test_validate_and_missing_steps_impute_a_three_level_plan_with_an_ordered_categorical():
    rng = np.random.default_rng(1)
    K, C, n = 8, 2, 8
    s = np.repeat(np.arange(K), C * n) + 1
    c = np.repeat(np.arange(K * C), n) + 1
    x = rng.normal(size=len(s)) + rng.normal(size=K)[s - 1]
    grade = rng.choice(["A", "B", "C"], size=len(s))
    y = x + (grade == "B") + rng.normal(size=len(s))
    size = rng.normal(size=K * C)[c - 1]
    df = pd.DataFrame({"school": s, "class": c, "y": y, "x": x, "grade": grade, "size": size})
    df.loc[rng.random(len(df)) < 0.2, "grade"] = np.nan
    df.loc[rng.random(len(df)) < 0.1, "x"] = np.nan
    df.loc[df["class"].isin([3, 9]), "size"] = np.nan

    def level(name, id_, preds):
        return {"name": name, "id": id_, "ids_local_to_parent": False, "predictors": preds}

    def pred(t="continuous", levels=None):
        return {"type": t, "levels": levels, "range": None}

    vspec = {
        "format": "csv",
        "outcome": {"name": "y", "range": None},
        "levels": [
            level("student", None, {"x": pred(), "grade": pred("categorical", ["C", "B", "A"])}),
            level("class", "class", {"size": pred()}),
            level("school", "school", {}),
        ],
        "checks": {
            "duplicate_rows": "warn",
            "constant_predictors": "error",
            "ranges": "error",
            "small_clusters": "warn",
            "min_cluster_size": 2,
        },
    }
    mspec = {
        "missing": {
            "method": "multiple_imputation",
            "m": 2,
            "iterations": 3,
            "donors": 5,
            "ordered": ["grade"],
            "delta": {"grid": []},
        },
        "seed": 3,
    }
    clean, _, _ = validate_step(df, vspec)
    sets, report = missing_step(clean, mspec, vspec)
    methods = report["imputation"]["methods"]
    assert methods["grade"]["model"].startswith("3l.probit.ordered")
    assert methods["size"]["model"].startswith("2l.norm at level 2")
    buf = io.BytesIO()
    sets[1].to_parquet(buf)  # what the missing rule writes
    back = pd.read_parquet(io.BytesIO(buf.getvalue()))
    assert list(back.grade.cat.categories) == ["C", "B", "A"] and back.grade.notna().all()
    text = " ".join(str(c) for kind, c in missing_section(report, []) if kind == "md")
    assert "clusters `class` (16) nested in `school` (8; three-level imputation models)" in text
