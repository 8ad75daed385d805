"""Latent-normal imputation of categorical variables with three categories (fast, seeded)."""

import numpy as np
import pandas as pd
import pytest

from mlmpipe.errors import DataValidationError, PlanError
from mlmpipe.missing import handle_missing
from mlmpipe.missing.mi_categorical import rtruncnorm
from mlmpipe.missing.mi_chained import ImputationSpec, impute_multilevel

CATS = ["low", "mid", "high"]  # deliberately not alphabetical


def icc(v: pd.Series, g: pd.Series) -> float:
    """One-way ANOVA estimator of the intraclass correlation (unbalanced n0)."""
    d = pd.DataFrame({"v": v.to_numpy(float), "g": g.to_numpy()})
    k, n = d.g.nunique(), len(d)
    agg = d.groupby("g").v.agg(["mean", "size"])
    n0 = (n - (agg["size"] ** 2).sum() / n) / (k - 1)
    msb = (agg["size"] * (agg["mean"] - d.v.mean()) ** 2).sum() / (k - 1)
    msw = ((d.v - d.groupby("g").v.transform("mean")) ** 2).sum() / (n - k)
    return (msb - msw) / (msb + (n0 - 1) * msw)


def simulate(ordered: bool, J=50, n=20, seed=1):
    """A 3-category level-1 variable with a random intercept (ICC of the indicators 0.03-0.25),
    related to x and y; about 24% of it missing at random given y."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(J), n)
    x = rng.normal(size=J * n)
    if ordered:
        z = 0.6 * x + rng.normal(0, 0.9, J)[g] + rng.normal(size=J * n)
        c = np.searchsorted([-0.5, 0.7], z)
    else:
        u = rng.normal(0, 0.9, (J, 2))[g]
        e = rng.normal(size=(J * n, 2))
        zz = np.stack([0.6 * x + u[:, 0] + e[:, 0] - 0.2, -0.5 * x + u[:, 1] + e[:, 1] - 0.4], 1)
        c = np.where(zz.max(1) < 0, 0, zz.argmax(1) + 1)
    y = 1 + 0.5 * x + np.array([0, 0.5, 1.0])[c] + rng.normal(0, 0.5, J)[g] + rng.normal(size=J * n)
    full = pd.DataFrame({"cl": g, "y": y, "x": x, "c": pd.Categorical.from_codes(c, CATS)})
    df = full.copy()
    df.loc[rng.random(len(df)) < 0.5 / (1 + np.exp(-2 * (y - y.mean()))), "c"] = np.nan
    return full, df


def spec(ordered=(), **kw):
    base = dict(
        outcome="y",
        cluster="cl",
        level1={
            "y": ("continuous", None),
            "x": ("continuous", None),
            "c": ("categorical", CATS),
        },
        level2={},
        ids=("cl",),
        m=10,
        iterations=15,
        seed=3,
        ordered=ordered,
    )
    return ImputationSpec(**(base | kw))


@pytest.mark.parametrize("ordered", [True, False], ids=["ordered", "unordered"])
def test_three_categories_keep_proportions_and_icc(ordered):
    full, df = simulate(ordered)
    sets, info = impute_multilevel(df, spec(("c",) if ordered else ()))
    kind = "probit.ordered" if ordered else "probit.multinomial"
    assert info["methods"]["c"]["model"].startswith(f"2l.{kind} (latent normal)")
    truth = full.c.value_counts(normalize=True)[CATS].to_numpy()
    cc = df.c.value_counts(normalize=True)[CATS].to_numpy()
    mi = np.mean([s.c.value_counts(normalize=True)[CATS].to_numpy() for s in sets], 0)
    # ~240 imputed of 1000: the imputation error of a proportion is ~ 0.24 * sqrt(.25/240)
    # ~= 0.008 per data set plus parameter noise; 0.03 is > 3 such SDs, and the complete cases
    # (biased under this MAR mechanism) must be further off in total than the imputations
    # (seeds 1-3 measured: largest imputation error 0.021, complete-case total error 0.044-0.081)
    assert np.abs(mi - truth).max() < 0.03
    assert np.abs(mi - truth).sum() < np.abs(cc - truth).sum()
    # the clustering of each indicator survives: imputing a quarter of the values without the
    # clusters dilutes the between-cluster variance of 'high' (ICC ~ 0.2) by up to ~40% (0.75^2),
    # while the imputation noise of this ICC (measured over the seeds 1-3) is below 0.02
    for k in ("mid", "high"):
        ref = icc(full.c == k, full.cl)
        got = np.mean([icc(s.c == k, s.cl) for s in sets])
        assert got == pytest.approx(ref, abs=0.03), k
    for s in sets:  # categories, their order and the observed values are kept
        assert list(s.c.cat.categories) == CATS and s.c.notna().all()
        obs = df.c.notna()
        assert (s.loc[obs, "c"] == df.loc[obs, "c"]).all()
        assert (s.imputed_c == df.c.isna()).all()
    assert not sets[0].c.equals(sets[1].c)


def test_ordered_dtype_and_level2_categorical_kept():
    full, df = simulate(True, J=30, n=10, seed=4)
    rng = np.random.default_rng(0)
    school = pd.Categorical.from_codes(rng.integers(0, 3, 30), ["public", "private", "church"])
    df["type"] = pd.Series(school)[df.cl].to_numpy()
    df.loc[df.cl.isin([1, 5, 9, 17]), "type"] = np.nan
    df["c"] = df.c.cat.as_ordered()
    level2 = {"type": ("categorical", ["public", "private", "church"])}
    sets, info = impute_multilevel(df, spec(m=2, iterations=4, level2=level2))
    assert info["methods"]["c"]["model"].startswith("2l.probit.ordered")  # from the dtype
    assert info["methods"]["type"]["model"].startswith("2lonly.probit.multinomial")
    for s in sets:
        assert s.c.cat.ordered and list(s.c.cat.categories) == CATS
        assert list(s.type.cat.categories) == ["public", "private", "church"]
        assert (s.groupby("cl").type.nunique() == 1).all() and s.type.notna().all()


def test_empty_category_and_bad_ordered_give_one_line_errors():
    _, df = simulate(False, J=20, n=10)
    cats = CATS + ["none"]
    bad = spec(level1={"y": ("continuous", None), "c": ("categorical", cats)})
    with pytest.raises(
        DataValidationError, match=r"'c' has category\(ies\) 'none' that occur"
    ) as e:
        impute_multilevel(df, bad)
    assert "\n" not in str(e.value)
    with pytest.raises(DataValidationError, match=r"missing.ordered: 'x' is continuous"):
        impute_multilevel(df, spec(ordered=("x",)))
    levels = [("student", None, ["x", "c"]), ("school", "cl", [])]
    types = {"x": ("continuous", None), "c": ("categorical", CATS)}
    mspec = {"method": "multiple_imputation", "m": 2, "iterations": 2, "ordered": ["x"]}
    with pytest.raises(PlanError, match=r"missing.ordered: 'x' is not a categorical predictor"):
        handle_missing(df, mspec, levels, "y", types=types)


def test_truncated_normal_draws_stay_in_their_interval_far_in_the_tails():
    rng = np.random.default_rng(1)
    mean = np.zeros(4000)
    lo = np.r_[np.full(2000, 9.0), np.full(2000, -np.inf)]
    hi = np.r_[np.full(2000, np.inf), np.full(2000, -0.5)]
    z = rtruncnorm(mean, lo, hi, rng)
    assert (z[:2000] >= 9).all() and (z[2000:] <= -0.5).all()
    # mean of N(0,1) truncated below at 9: phi(9)/(1-Phi(9)) = 9.1085; above at -0.5: -1.1411
    assert z[:2000].mean() == pytest.approx(9.1085, abs=0.01)
    assert z[2000:].mean() == pytest.approx(-1.1411, abs=0.03)
