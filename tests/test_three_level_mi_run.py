"""A three-level plan (students < schools < LEAs) with multiple imputation of a 15%-missing outcome
runs end to end in-process (issue 21: the ladder used to end at different random structures across
imputations and pooling the effect sizes crashed). Every imputation of a model is fitted with one
random structure, so the fits pool."""

import numpy as np
import pytest
import yaml

from mlmpipe.data.example import load_example
from mlmpipe.plan import Plan
from mlmpipe.runner import run_plan

PLAN = "config/examples/chem97_three_level.yaml"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    work = tmp_path_factory.mktemp("three_level_mi")
    df = load_example("chem97")
    rng = np.random.default_rng(11)
    low = df["gcsescore"] < df["gcsescore"].median()  # MAR: more holes for lower GCSE scores
    df.loc[rng.random(len(df)) < np.where(low, 0.2, 0.1), "score"] = np.nan
    (work / "data/raw").mkdir(parents=True)
    df.to_csv(work / "data/raw/chem97_holes.csv", index=False)
    cfg = yaml.safe_load(open(PLAN).read())
    cfg.pop("sensitivity")
    cfg["data"] = {"source": "file", "file": "chem97_holes.csv"}
    cfg["missing"] = {"method": "multiple_imputation", "m": 5, "iterations": 5}
    # an LEA-varying GCSE slope: the ladder simplifies it in some imputations only
    cfg["models"].append({"name": "m3_lea_slope", "add_random": {"lea": ["cgcsescore"]}})
    return df, run_plan(Plan.from_config(cfg), work)


def test_every_imputation_of_a_model_has_one_structure_and_the_fits_pool(run):
    df, res = run
    assert 0.12 < df["score"].isna().mean() < 0.18
    for (model, est), fits in res.fits.items():
        assert len(fits) == 5
        assert len({f.formula_text for f in fits}) == 1, (model, est)
        pooled = res.pooled[(model, est)]
        assert pooled.is_pooled and pooled.pooling.m == 5
    diverged = [f.ladder for f in res.fits[("m3_lea_slope", "reml")]]
    assert all("common_structure" in d for d in diverged)
    assert len(set(diverged[0]["per_imputation"])) > 1  # the ladder alone ends at different models
    assert diverged[0]["common_structure"] == res.fits[("m3_lea_slope", "reml")][0].formula_text
    final = res.fit("m2_slope")
    gcse = final.fixed_effect("cgcsescore")
    assert 2.0 < gcse.estimate < 2.8 and 0 < gcse.fmi < 1
    assert res.effects  # effect sizes pooled over the imputations
