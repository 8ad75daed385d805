"""The ``available`` method (mlmpipe.missing.available): every row with an observed outcome is
kept; a model drops only the rows missing one of its own variables. More rows than listwise where
a model does not use the incomplete predictor, the same fit where it does."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import mlmpipe
from mlmpipe.compare import compare_sequence
from mlmpipe.missing import handle_missing
from mlmpipe.missing.report_section import missing_section
from mlmpipe.plan import Plan
from mlmpipe.record import FitRecord

LEVELS = [("student", None, ["x", "z"]), ("school", "school", ["w"])]
ROOT = Path(__file__).resolve().parents[2]


def data():
    rng = np.random.default_rng(11)
    g = np.repeat(np.arange(25), 12)
    x, z = rng.normal(size=300), rng.normal(size=300)
    w = rng.normal(size=25)[g]
    y = 0.5 * x + 0.3 * w + rng.normal(size=25)[g] + rng.normal(size=300)
    y[rng.random(300) < 0.1] = np.nan
    x[rng.random(300) < 1 / (1 + np.exp(2 - z))] = np.nan  # MAR on z
    return pd.DataFrame({"school": g, "y": y, "x": x, "z": z, "w": w})


def test_available_keeps_every_row_with_an_observed_outcome():
    df = data()
    (lw,), _ = handle_missing(df, {"method": "listwise", "m": 0}, LEVELS, "y")
    (av,), rep = handle_missing(df, {"method": "available", "m": 0}, LEVELS, "y")
    assert len(av) == int(df["y"].notna().sum()) > len(lw)
    info = rep["available"]
    assert info["rows_outcome_observed"] == len(av) and info["rows_complete"] == len(lw)
    assert info["predictor_missing"]["x"] == int(av["x"].isna().sum()) > 0
    assert rep["rows_analysed"] == [len(av)]
    # a model without x uses every kept row; a model with x the listwise rows, with the same fit
    f0 = mlmpipe.fit("y ~ z + (1 | school)", av, reml=False).to_dict()
    assert f0["nobs"] == len(av)
    fa = mlmpipe.fit("y ~ x + z + (1 | school)", av, reml=False).to_dict()
    fl = mlmpipe.fit("y ~ x + z + (1 | school)", lw, reml=False).to_dict()
    assert fa["nobs"] == fl["nobs"] == len(lw)
    for a, b in zip(fa["fixed"], fl["fixed"], strict=True):
        assert a["estimate"] == pytest.approx(b["estimate"], rel=1e-10)
    assert fa["loglik"] == pytest.approx(fl["loglik"], rel=1e-12)
    # the models rest on different rows: no LRT, a note instead
    fits = {
        ("m0", "ml"): FitRecord.from_dict(f0 | {"model": "m0"}),
        ("m1", "ml"): FitRecord.from_dict(fa | {"model": "m1"}),
    }
    models = [
        {"name": "m0", "label": "z", "formula": f0["formula"]},
        {"name": "m1", "label": "+ x", "formula": fa["formula"]},
    ]
    test = compare_sequence(models, fits)["models"][1]["test"]
    assert "p" not in test and "fitted to different rows" in test["note"]
    items = missing_section(rep, [], [fits[k].replace(estimator="ml") for k in fits])
    text = " ".join(o for k, o in items if k == "md")
    assert "Available-data analysis" in text and "only from the models" in text
    table = next(o for k, o in items if k == "table" and "rows fitted" in o)
    assert table["rows fitted"].tolist() == [len(av), len(lw)]


def test_available_without_missing_predictors_equals_listwise():
    df = data().assign(x=lambda d: d["x"].fillna(0.0))
    (lw,), _ = handle_missing(df, {"method": "listwise", "m": 0}, LEVELS, "y")
    (av,), _ = handle_missing(df, {"method": "available", "m": 0}, LEVELS, "y")
    pd.testing.assert_frame_equal(lw, av)


def test_plan_accepts_available_with_no_imputations():
    cfg = yaml.safe_load((ROOT / "config/analysis.yaml").read_text())
    cfg["missing"] = {"method": "available"}
    plan = Plan.from_config(cfg)
    assert plan.missing["method"] == "available" and plan.imputations == (0,)
