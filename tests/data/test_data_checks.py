"""Each bad input stops with a one-line error naming the column/plan key and offending IDs/rows."""

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlmpipe.data import describe, read_table, validate_data
from mlmpipe.errors import DataValidationError, EstimationError
from mlmpipe.plan import Plan

BASE = {
    "data": {"file": "x.csv"},
    "outcome": {"name": "y"},
    "levels": [
        {
            "name": "student",
            "predictors": {
                "x": {"type": "continuous", "centering": "group"},
                "g": {"type": "binary", "levels": ["b", "a"]},
            },
        },
        {"name": "classroom", "id": "class", "predictors": {}},
        {"name": "school", "id": "school", "predictors": {"w": {}}},
    ],
    "models": [{"name": "null"}],
}


def spec(cfg=BASE):
    return json.loads(Plan.from_config(copy.deepcopy(cfg)).slice_validate())


@pytest.fixture
def df():
    rng = np.random.default_rng(0)
    school = np.repeat([10, 20, 30], 12)
    klass = np.repeat(np.arange(9), 4)
    return pd.DataFrame(
        {
            "school": school,
            "class": klass,
            "y": rng.normal(size=36),
            "x": rng.normal(size=36),
            "g": np.tile(["a", "b"], 18),
            "w": pd.Series(school).map({10: 1.0, 20: 2.0, 30: 5.0}),
        }
    )


def one_line_error(df, s, match, exc=DataValidationError):
    with pytest.raises(exc, match=match) as err:
        validate_data(df, s)
    assert "\n" not in str(err.value)
    return str(err.value)


def test_clean_data_pass_and_factor_levels(df):
    clean, report = validate_data(df, spec())
    assert list(clean["g"].cat.categories) == ["b", "a"]  # planned order: b is the reference
    assert all(c["status"] == "ok" for c in report["checks"])
    d = describe(clean, spec())
    assert [r["n"] for r in d["structure"]] == [36, 9, 3]
    row = next(r for r in d["variables"] if r["variable"] == "x")
    assert "sd_between_school" in row and "sd_within_classroom" in row


def test_absent_column(df):
    one_line_error(
        df.drop(columns="w"), spec(), r"levels\[2\]\.predictors\.w: column 'w' is not in the data"
    )


def test_missing_ids(df):
    df.loc[[3, 7], "class"] = np.nan
    one_line_error(
        df, spec(), r"levels\[1\]\.id: ID column 'class' has 2 missing value\(s\), rows 4, 8"
    )


def test_class_in_two_schools_and_local_ids(df):
    df.loc[12:15, "class"] = 0  # class 0 now also in school 20
    msg = one_line_error(
        df, spec(), r"levels\[1\]\.id: classroom IDs are crossed with schools: 1 classroom appears"
    )
    assert "(e.g. 0)" in msg and "declare ids_local_to_parent: true or a crossed" in msg
    cfg = copy.deepcopy(BASE)
    cfg["levels"][1]["ids_local_to_parent"] = True
    clean, _ = validate_data(df, spec(cfg))
    assert clean["class"].nunique() == 9 and clean.loc[12, "class"] == "20:0"


def test_non_numeric_outcome(df):
    df["y"] = df["y"].astype(object)
    df.loc[5, "y"] = "n/a"
    one_line_error(df, spec(), r"outcome\.name: outcome 'y' is not numeric .*e.g. n/a; rows 6")


def test_single_cluster(df):
    df["school"] = 10
    df["w"] = 1.0
    one_line_error(df, spec(), r"levels\[2\]\.id: level 'school' has only 1 cluster")


def test_level2_variable_varying_within_cluster(df):
    df.loc[0, "w"] = 9.0
    one_line_error(
        df,
        spec(),
        r"levels\[2\]\.predictors\.w: 'w' is declared at level 'school' but varies.*IDs 10",
    )


def test_unplanned_factor_level_and_range(df):
    df.loc[2, "g"] = "c"
    one_line_error(
        df,
        spec(),
        r"levels\[0\]\.predictors\.g\.type: .g. is declared binary but has 3 distinct values \(a, b, c\)",
    )
    cfg = copy.deepcopy(BASE)
    cfg["outcome"]["range"] = [-0.5, 0.5]
    df.loc[2, "g"] = "a"
    one_line_error(df, spec(cfg), r"outcome\.range: \d+ value\(s\) of 'y' outside \[-0.5, 0.5\]")


def test_soft_checks_warn(df):
    df = pd.concat([df, df.iloc[[0]]], ignore_index=True)
    with pytest.warns(UserWarning, match="duplicated row"):
        _, report = validate_data(df, spec())
    assert any(c["name"] == "duplicate_rows" and c["status"] == "warn" for c in report["checks"])


def test_model_that_cannot_be_estimated():
    from mlmpipe.steps.models import fit_step

    d = pd.DataFrame({"id": np.arange(20), "y": np.arange(20.0), "x": np.linspace(0, 1, 20)})
    fspec = {
        "model": "m1",
        "formula": "y ~ x + (x | id)",
        "estimator": "reml",
        "backend": "statsmodels",
    }
    with pytest.raises(EstimationError, match=r"models\.m1 \(reml\): .*random effects") as err:
        fit_step(d, fspec)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("ext", ["csv", "parquet", "sav", "dta"])
def test_readers_round_trip(df, tmp_path: Path, ext):
    import pyreadstat

    path = tmp_path / f"d.{ext}"
    if ext == "csv":
        df.to_csv(path, index=False)
    elif ext == "parquet":
        df.to_parquet(path)
    elif ext == "sav":
        pyreadstat.write_sav(df, str(path))
    else:
        pyreadstat.write_dta(df, str(path))
    back = read_table(path)
    assert len(back) == 36 and set(df.columns) <= set(back.columns)
    assert np.allclose(back["y"], df["y"])


def test_the_missing_code_heuristic_flags_codes_far_outside_only():
    from mlmpipe.data.checks import suspected_codes

    rng = np.random.default_rng(0)
    scale = pd.Series(rng.integers(1, 8, 200).astype(float))  # a 1..7 rating
    assert suspected_codes(scale) == []
    assert suspected_codes(pd.concat([scale, pd.Series([-99.0, -99.0, 999.0])])) == [-99.0, 999.0]
    assert suspected_codes(pd.concat([scale, pd.Series([9.0])])) == []  # 9 is near a 1..7 scale
    income = pd.Series(rng.uniform(0, 5000, 200).round())
    assert suspected_codes(pd.concat([income, pd.Series([999.0])])) == []  # inside the values
    assert suspected_codes(pd.Series([1.5, 2.5, -99.0])) == []  # too few other values to judge


def test_blank_answers_are_missing_and_recorded(df):
    """A blank (or whitespace-only) answer in a text column is missing in the analysed copy, not a
    third category, and the data checks list the recoding; the input frame is not modified."""
    raw = df.copy()
    raw.loc[[3, 7], "g"] = ["", "  "]
    before = raw.copy()
    clean, report = validate_data(raw, spec())
    assert clean["g"].isna().sum() == 2
    assert set(clean["g"].dropna().astype(str)) == {"a", "b"}
    rec = next(c for c in report["checks"] if c["name"] == "blank_strings")
    assert rec["details"]["recoded"] == {"g": 2}
    pd.testing.assert_frame_equal(raw, before)
