"""Delta adjustment of binary, count and ordinal outcomes: link-scale shift by coupled redraws."""

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

import mlmpipe
from mlmpipe.missing.delta import delta_analysis
from mlmpipe.missing.delta_discrete import DiscreteShift
from mlmpipe.missing.handle import imputation_spec
from mlmpipe.missing.mi_chained import impute_multilevel
from mlmpipe.missing.multiverse import shift_imputed_outcome
from mlmpipe.missing.outcome_kind import restore_outcome
from mlmpipe.missing.pool import pool_fits
from mlmpipe.record.capture import record_from_result
from tests.records import document

GLMM = {"family": "binomial", "link": None, "nagq": 1}
LEVELS = [("student", None, ["x"]), ("school", "cl", [])]
TYPES = {"x": ("continuous", None)}


def _binary_data(seed: int = 9) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(24), 10)
    x = rng.normal(size=g.size)
    eta = -0.3 + 0.8 * x + rng.normal(0, 0.7, 24)[g]
    y = (rng.random(g.size) < special.expit(eta)).astype(float)
    y[rng.random(g.size) < 0.3] = np.nan
    return pd.DataFrame({"cl": g, "y": y, "x": x})


@pytest.fixture(scope="module")
def binary_imputed():
    df = _binary_data()
    opts = {"m": 2, "iterations": 3, "donors": 5}
    spec = imputation_spec(df, opts, LEVELS, "y", TYPES, 2, (), family="binomial")
    sets, _ = impute_multilevel(df, spec)
    return df, restore_outcome(sets, "y", "binomial")


def test_binary_outcome_is_imputed_in_its_support(binary_imputed):
    df, sets = binary_imputed
    for s in sets:
        assert s["y"].dtype == float and set(s["y"].unique()) <= {0.0, 1.0}
        obs = df["y"].notna()
        np.testing.assert_array_equal(s.loc[obs, "y"], df.loc[obs, "y"])  # observed untouched
    gaussian = imputation_spec(df, {"m": 2}, LEVELS, "y", TYPES, 2)
    assert gaussian.level1["y"] == ("continuous", None)  # gaussian plans impute as before


def test_binary_delta_moves_the_pooled_estimate_monotonically(binary_imputed):
    _, sets = binary_imputed
    f = "y ~ x + (1 | cl)"
    res = delta_analysis(sets, "y", f, "(Intercept)", [-1.5, 1.5], glmm=GLMM, seed=3)
    est = [r["estimate"] for r in sorted(res["rows"], key=lambda r: r["delta"])]
    assert est[0] < est[1] < est[2]
    assert res["sd_observed"] is None and res["units"].startswith("log odds ratio")
    # delta = 0 is the MI estimate of the same GLMM
    mi = document(
        pool_fits([record_from_result(mlmpipe.fit(f, s, reml=False, **GLMM)) for s in sets])
    )
    want = next(r for r in mi["fixed"] if r["term"] == "(Intercept)")
    at0 = next(r for r in res["rows"] if r["delta"] == 0.0)
    assert at0["estimate"] == pytest.approx(want["estimate"], rel=1e-12)
    assert at0["se"] == pytest.approx(want["se"], rel=1e-12)
    share = {c["delta"]: c["share"] for c in res["imputed_changed"]}
    assert share[0.0] == 0.0 and share[1.5] > 0 and share[-1.5] > 0


def _coupled(family: str, center: np.ndarray, rng, **extra) -> tuple[DiscreteShift, np.ndarray]:
    """Imputed values drawn from the unshifted model, then their coupling uniforms."""
    n = len(center)
    u0 = rng.uniform(size=n)
    probe = DiscreteShift(pd.DataFrame(), "y", np.arange(n), family, center, u0, **extra)
    y = probe.quantile(0.0)  # an exact draw of the unshifted model
    lo, hi = probe.cdf(y - 1, 0.0), probe.cdf(y, 0.0)
    u = lo + rng.uniform(size=n) * (hi - lo)
    return DiscreteShift(pd.DataFrame(), "y", np.arange(n), family, center, u, **extra), y


@pytest.mark.parametrize("family", ["binomial", "poisson", "negbin", "ordinal"])
def test_coupled_draw_has_the_shifted_distribution_and_is_monotone(family):
    rng = np.random.default_rng(11)
    n, delta = 40_000, 0.7
    center = rng.normal(0.2, 0.5, n)
    extra = {"size": 2.5} if family == "negbin" else {}
    if family == "ordinal":
        extra = {"cuts": np.array([-1.0, 0.3, 1.5]), "link": "logit"}
        extra["categories"] = np.arange(4)
    sh, y0 = _coupled(family, center, rng, **extra)
    np.testing.assert_array_equal(sh.quantile(0.0), y0)
    y = sh.quantile(delta)
    assert (y >= y0).all() and (sh.quantile(-delta) <= y0).all()  # monotone in delta
    for k in range(3):  # P(y <= k) under the shift, averaged over rows: exact up to MC error
        want = sh.cdf(np.full(n, k), delta).mean()
        assert abs((y <= k).mean() - want) < 4 * np.sqrt(want * (1 - want) / n) + 1e-12
    if family == "poisson":
        assert y.mean() == pytest.approx(np.exp(center + delta).mean(), rel=0.02)
    if family == "negbin":
        k = 2.5
        mu = np.exp(center + delta)
        assert sh.cdf(np.full(n, 1), delta)[0] == pytest.approx(
            stats.nbinom.cdf(1, k, k / (k + mu[0]))
        )


def test_multiverse_delta_option_for_a_binary_outcome(binary_imputed):
    """The multiverse's ``missing: delta`` option shifts the imputed 0/1 outcomes by coupled
    redraws on the logit scale: only imputed values change, and only upwards for delta > 0."""
    _, sets = binary_imputed
    f = "y ~ 1 + x + (1 | cl)"
    shifted = shift_imputed_outcome(sets, "y", 2.0, f, GLMM, seed=1)
    base = shift_imputed_outcome(sets, "y", 0.0, f, GLMM, seed=1)
    for s, b in zip(shifted, base, strict=True):
        assert set(s["y"].unique()) <= {0.0, 1.0}
        imp = s["imputed_y"].to_numpy()
        assert (s["y"].to_numpy() >= b["y"].to_numpy()).all()  # only upwards for delta > 0
        np.testing.assert_array_equal(s["y"].to_numpy()[~imp], b["y"].to_numpy()[~imp])
    assert sum((s["y"] != b["y"]).sum() for s, b in zip(shifted, base, strict=True)) > 0


def test_ordinal_shift_moves_imputed_categories_up_the_latent_scale():
    from mlmpipe.missing.delta_discrete import prepare_shift

    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(30), 15)
    x = rng.normal(size=g.size)
    latent = 0.8 * x + rng.normal(0, 0.5, 30)[g] + rng.logistic(size=g.size)
    labels = np.array(["low", "mid", "high", "top"])
    y = pd.Categorical(labels[np.digitize(latent, [-1, 0.5, 1.8])], labels, ordered=True)
    df = pd.DataFrame({"y": y, "x": x, "g": g, "imputed_y": rng.random(g.size) < 0.3})
    glmm = {"family": "ordinal", "link": None, "nagq": 1}
    f = "y ~ x + (1 | g)"
    full = mlmpipe.fit(f, df, reml=False, **glmm)  # new-data prediction keeps the slope
    np.testing.assert_allclose(
        full.predict(df, re=True, type="link"), full.linear_predictor(), atol=1e-10
    )
    sh = prepare_shift(df, "y", f, glmm, np.random.default_rng(1))
    assert sh.shifted(0.0)["y"].equals(df["y"])
    codes = {d: sh.shifted(d)["y"].cat.codes.to_numpy() for d in (-1.0, 0.0, 1.0)}
    imp = df["imputed_y"].to_numpy()
    assert (codes[-1.0] <= codes[0.0]).all() and (codes[0.0] <= codes[1.0]).all()
    assert codes[1.0][imp].mean() > codes[0.0][imp].mean() > codes[-1.0][imp].mean()
    np.testing.assert_array_equal(codes[1.0][~imp], codes[0.0][~imp])
    assert list(sh.shifted(1.0)["y"].cat.categories) == list(labels)


def test_plan_slices_carry_the_family_only_for_non_gaussian_plans():
    import json
    from pathlib import Path

    import yaml

    from mlmpipe.plan import Plan

    root = Path(__file__).resolve().parents[2]
    mi = {"method": "multiple_imputation", "m": 2, "delta": {"grid": [-1.0, 1.0]}}
    slices = {}
    for name in ("analysis.yaml", "examples/hsb_binary.yaml"):
        cfg = yaml.safe_load((root / "config" / name).read_text())
        cfg["missing"] = mi
        plan = Plan.from_config(cfg)
        slices[name] = (json.loads(plan.slice_delta()), json.loads(plan.slice_missing()))
    gauss_delta, gauss_missing = slices["analysis.yaml"]
    assert "glmm" not in gauss_delta and "seed" not in gauss_delta
    assert "family" not in gauss_missing
    bin_delta, bin_missing = slices["examples/hsb_binary.yaml"]
    assert bin_delta["glmm"] == GLMM and bin_delta["estimator"] == "ml"
    assert bin_missing["family"] == "binomial"


@pytest.mark.parametrize("stored", ["categorical", "scores"])
def test_ordinal_outcome_is_imputed_as_ordered_categories(stored):
    from mlmpipe.missing.handle import handle_missing

    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(20), 15)
    x = rng.normal(size=g.size)
    latent = 0.8 * x + rng.normal(0, 0.5, 20)[g] + rng.logistic(size=g.size)
    pos = np.digitize(latent, [-1, 0.5, 1.8])
    labels = np.array(["low", "mid", "high", "top"])
    if stored == "categorical":
        y = pd.Series(pd.Categorical(labels[pos], labels, ordered=True))
    else:
        y = pd.Series(2.0 * pos + 2)  # scores 2, 4, 6, 8
    y[rng.random(g.size) < 0.25] = np.nan
    df = pd.DataFrame({"y": y, "x": x, "cl": g})
    opts = {"method": "multiple_imputation", "m": 2, "iterations": 3}
    levels = [("student", None, ["x"]), ("school", "cl", [])]
    sets, _ = handle_missing(df, opts, levels, "y", TYPES, 4, family="ordinal")
    for s in sets[1:]:
        assert s["y"].notna().all() and s["imputed_y"].sum() == df["y"].isna().sum()
        if stored == "categorical":
            assert s["y"].dtype == df["y"].dtype  # same categories, still ordered
        else:
            assert s["y"].dtype == float and set(s["y"]) <= {2.0, 4.0, 6.0, 8.0}
    if stored == "scores":
        return
    glmm = {"family": "ordinal", "link": None, "nagq": 1}
    res = delta_analysis(sets[1:], "y", "y ~ x + (1 | cl)", "x", [1.0], glmm=glmm, seed=2)
    share = {c["delta"]: c["share"] for c in res["imputed_changed"]}
    assert share[0.0] == 0.0 and share[1.0] > 0.1
