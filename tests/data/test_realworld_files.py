"""SPSS user-missing values, Stata extended missing values, value labels, Excel sheets and R data
frames (the files of tests/fixtures/realworld, written by its make_files.py)."""

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from mlmpipe.data import read_table, validate_data
from mlmpipe.data.describe import describe
from mlmpipe.errors import DataValidationError, PlanError
from mlmpipe.plan import Plan

FILES = Path(__file__).resolve().parents[1] / "fixtures" / "realworld"

PLAN = {
    "data": {"file": "pupils.sav"},
    "outcome": {"name": "score"},
    "levels": [
        {
            "name": "pupil",
            "predictors": {
                "ses": {"type": "continuous", "centering": "grand"},
                "sex": {"type": "binary", "levels": ["boy", "girl"]},
                "track": {"type": "categorical"},
            },
        },
        {"name": "school", "id": "school", "predictors": {"sector": {"type": "binary"}}},
    ],
    "models": [{"name": "null"}],
}


def spec(cfg=PLAN, **data):
    cfg = copy.deepcopy(cfg)
    cfg["data"].update(data)
    return json.loads(Plan.from_config(cfg).slice_validate())


def check(report, name):
    return next(c for c in report["checks"] if c["name"] == name)


def test_spss_user_missing_values_and_ranges_are_missing_and_listed():
    raw = read_table(FILES / "pupils.sav")
    assert raw["sex"].isna().sum() == 4 and raw["ses"].isna().sum() == 3
    assert raw.attrs["file_missing"] == {"sex": {"9": 4}, "ses": {"-99": 3}}
    clean, report = validate_data(raw, spec())
    msg = check(report, "file_missing")["message"]
    assert "sex: 4 x 9" in msg and "ses: 3 x -99" in msg
    assert clean["ses"].min() > -10


def test_stata_extended_missing_values_are_missing_and_listed():
    raw = read_table(FILES / "pupils.dta")
    assert raw["ses"].dtype.kind == "f" and raw["ses"].isna().sum() == 3
    assert raw.attrs["file_missing"] == {"ses": {".a": 2, ".b": 1}}
    _, report = validate_data(raw, spec(file="pupils.dta"))
    assert "ses: 2 x .a, 1 x .b" in check(report, "file_missing")["message"]


def test_value_labels_are_category_labels_in_code_order_and_continuous_keeps_codes():
    raw = read_table(FILES / "pupils.sav")
    assert raw["track"].dtype.kind == "f"  # the reader keeps the codes
    clean, report = validate_data(raw, spec())
    assert list(clean["track"].cat.categories) == ["academic", "general", "vocational"]
    assert list(clean["sex"].cat.categories) == ["boy", "girl"]
    assert list(clean["sector"].cat.categories) == ["public", "private"]  # code 0 first
    codes = raw["track"].dropna().to_numpy()
    labels = clean["track"].astype(str).to_numpy()
    assert set(zip(codes, labels, strict=True)) == {
        (1.0, "academic"),
        (2.0, "general"),
        (3.0, "vocational"),
    }
    assert (
        "track (1 = academic, 2 = general, 3 = vocational)"
        in (check(report, "value_labels")["message"])
    )


def test_excel_sheet_is_selectable_and_a_wrong_sheet_names_the_key():
    first = read_table(FILES / "pupils.xlsx")
    assert list(first.columns) == ["note"]
    data = read_table(FILES / "pupils.xlsx", sheet="data")
    sav = read_table(FILES / "pupils.sav")
    assert np.allclose(data["score"], sav["score"])
    with pytest.raises(PlanError, match=r"^data\.sheet: .*no sheet 'marks'; its sheets: notes"):
        read_table(FILES / "pupils.xlsx", sheet="marks")
    assert spec(file="pupils.xlsx", sheet="data")["sheet"] == "data"
    assert "sheet" not in spec()  # an unset key leaves the slice (and the plan hash) as it was


def test_old_xls_is_a_one_line_error_saying_how_to_export(tmp_path: Path):
    path = tmp_path / "d.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(DataValidationError, match=r"^data\.file: .*save it as \.xlsx"):
        read_table(path)


@pytest.mark.parametrize("name", ["pupils.rds", "pupils.RData"])
def test_r_data_frames_are_read_with_factors_as_categories(name):
    df = read_table(FILES / name)
    assert len(df) == 300
    assert list(df["track"].cat.categories) == ["academic", "general", "vocational"]
    sav = read_table(FILES / "pupils.sav")
    assert np.allclose(df["score"], sav["score"])


def test_an_rdata_file_with_two_objects_says_which_to_save(tmp_path: Path):
    import subprocess

    path = tmp_path / "two.RData"
    code = f"a <- data.frame(x = 1:3); b <- data.frame(y = 1:3); save(a, b, file = '{path}')"
    subprocess.run(["Rscript", "-e", code], check=True, capture_output=True)
    with pytest.raises(DataValidationError, match=r"holds 2 objects \(a, b\); save the one"):
        read_table(path)


def test_describe_guesses_from_codes_and_lists_the_files_missing_values():
    d = describe(FILES / "pupils.sav")
    assert d.column("track").type == "categorical"
    assert d.column("sex").labels[2.0] == "girl"
    assert d.column("sex").file_missing == {"9": 4}
    assert d.column("sex").type == "binary"  # 9 is missing, two codes remain
