"""The two-level chained-equation sampler on small simulated data (fast)."""

import numpy as np
import pandas as pd
import pytest

from mlmpipe.errors import DataValidationError, EstimationError, PlanError
from mlmpipe.missing import handle_missing
from mlmpipe.missing.mi_chained import ImputationSpec, impute_multilevel
from mlmpipe.missing.mi_models import pmm


def simulate(J=40, n=12, seed=3):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(J), n)
    w = rng.normal(size=J)  # level-2
    x = rng.normal(size=J)[g] * 0.7 + rng.normal(size=J * n)
    b = (rng.random(J * n) < 0.4).astype(int)
    y = 1 + 0.8 * x + 0.5 * w[g] - 0.6 * b + rng.normal(size=J)[g] + rng.normal(size=J * n)
    df = pd.DataFrame(
        {"cl": g + 100, "y": y, "x": x, "b": pd.Categorical.from_codes(b, ["no", "yes"]), "w": w[g]}
    )
    full = df.copy()
    # MAR: x missing more often when y is high; y missing at random; w missing for 5 clusters
    px = 1 / (1 + np.exp(-2 * (y - y.mean())))
    df.loc[rng.random(len(df)) < 0.5 * px, "x"] = np.nan
    df.loc[rng.random(len(df)) < 0.1, "y"] = np.nan
    df.loc[rng.random(len(df)) < 0.1, "b"] = np.nan
    df.loc[df.cl.isin([100, 105, 110, 120, 130]), "w"] = np.nan
    return full, df


def spec(**kw):
    base = dict(
        outcome="y",
        cluster="cl",
        level1={
            "y": ("continuous", None),
            "x": ("continuous", None),
            "b": ("binary", ["no", "yes"]),
        },
        level2={"w": ("continuous", None)},
        ids=("cl",),
        interactions=(("x", "w"),),
        m=5,
        iterations=8,
        seed=11,
    )
    return ImputationSpec(**(base | kw))


def test_imputations_complete_flagged_and_observed_untouched():
    _, df = simulate()
    sets, info = impute_multilevel(df, spec())
    assert len(sets) == 5
    for s in sets:
        for v in ("y", "x", "b", "w"):
            assert s[v].notna().all()
            flag = s[f"imputed_{v}"]
            assert (flag == df[v].isna()).all()
            obs = df[v].notna()
            if v == "b":
                assert (s.loc[obs, v] == df.loc[obs, v]).all()
                assert set(s[v].cat.categories) == {"no", "yes"}
            else:
                np.testing.assert_array_equal(s.loc[obs, v], df.loc[obs, v])
        assert (s.groupby("cl")["w"].nunique() == 1).all()  # level-2 stays constant in clusters
    assert not sets[0]["x"].equals(sets[1]["x"])  # imputations differ
    assert set(info["methods"]) == {"y", "x", "b", "w"}
    assert "predictive mean matching" in info["methods"]["b"]["model"]
    assert info["methods"]["w"]["level"] == 2
    trace = pd.DataFrame(info["trace"])
    assert len(trace) == 5 * 8 * 4 and set(trace.columns) >= {
        "imputation",
        "iteration",
        "mean",
        "sd",
    }


def test_same_seed_same_imputations_other_seed_differs():
    _, df = simulate()
    a, _ = impute_multilevel(df, spec(m=2, iterations=3))
    b, _ = impute_multilevel(df, spec(m=2, iterations=3))
    c, _ = impute_multilevel(df, spec(m=2, iterations=3, seed=12))
    pd.testing.assert_frame_equal(a[1], b[1])
    assert not np.allclose(a[1]["x"], c[1]["x"])


def test_mar_mean_recovered_where_listwise_is_biased():
    full, df = simulate(J=60, n=15, seed=5)
    sets, _ = impute_multilevel(df, spec(m=5, iterations=10))
    truth = full["x"].mean()
    mi = np.mean([s["x"].mean() for s in sets])
    cc = df["x"].mean()
    se = full["x"].std() / np.sqrt(len(full))
    assert abs(cc - truth) > 3 * se  # complete cases are biased under this MAR mechanism
    assert abs(mi - truth) < 2.5 * se
    # the within-cluster slope of y on x survives imputation
    s = sets[0]
    xc = s["x"] - s.groupby("cl")["x"].transform("mean")
    yc = s["y"] - s.groupby("cl")["y"].transform("mean")
    assert np.polyfit(xc, yc, 1)[0] == pytest.approx(0.8, abs=0.12)


def test_pmm_takes_donor_values():
    rng = np.random.default_rng(0)
    out = pmm(
        np.array([0.0, 1.0, 2.0, 3.0]), np.array([2.9, -1.0]), np.array([0, 0, 1, 1.0]), rng, 1
    )
    np.testing.assert_array_equal(out, [1.0, 0.0])


def test_bad_input_errors_name_the_variable():
    _, df = simulate()
    with pytest.raises(DataValidationError, match=r"'cl' is an ID column"):
        impute_multilevel(df, spec(level2={"cl": ("continuous", None)}))
    gone = df.assign(x=np.nan)
    with pytest.raises(DataValidationError, match=r"'x' is entirely missing"):
        impute_multilevel(gone, spec())
    const = df.assign(x=np.where(df.x.isna(), np.nan, 2.0))
    with pytest.raises(EstimationError, match=r"imputation model for 'x' cannot be estimated"):
        impute_multilevel(const, spec())
    few = df.assign(w=df.w.where(df.cl.isin([101, 102])))  # w observed in 2 clusters only
    with pytest.raises(EstimationError, match=r"imputation model for 'w' cannot be estimated"):
        impute_multilevel(few, spec())
    with pytest.raises(DataValidationError, match=r"ID column 'cl' has 1 missing"):
        impute_multilevel(df.assign(cl=df.cl.where(df.index != 0)), spec())


def test_handle_missing_returns_listwise_then_imputations():
    _, df = simulate()
    levels = [("student", None, ["x", "b"]), ("school", "cl", ["w"])]
    types = {"x": ("continuous", None), "b": ("binary", ["no", "yes"]), "w": ("continuous", None)}
    mspec = {"method": "multiple_imputation", "m": 3, "iterations": 3, "donors": 5}
    sets, rep = handle_missing(
        df, mspec, levels, "y", types=types, seed=1, interactions=[["x", "w"]]
    )
    assert len(sets) == 4 and rep["m"] == 3
    assert sets[0].notna().all().all() and len(sets[0]) == rep["complete_rows"]
    assert rep["imputation"]["interactions"] == [["x", "w"]]
    four = [levels[0], ("class", "cl", []), ("school", "s", ["w"]), ("district", "d", [])]
    with pytest.raises(PlanError, match="two- and three-level plans; this plan has 4 levels"):
        handle_missing(df.assign(s=1, d=1), mspec, four, "y", types=types)
