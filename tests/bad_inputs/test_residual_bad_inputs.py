"""Bad residual structures (issue 15) as a user makes them: a tiny longitudinal project (8
subjects x 5 occasions, written here) run through ``mlmpipe run``; each case asserts the exit
status and the one ``mlmpipe:`` line naming the plan key or column (no traceback, raw data
unchanged; the ``Case`` harness of test_bad_inputs). About 10-15 s per case."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.bad_inputs.test_bad_inputs import Case, csv_bytes, template  # noqa: F401 (fixture)

FIT = "reports/fits/m1/reml/pooled.json"


def plan(residual: dict) -> dict:
    return {
        "project": "bad-residual",
        "seed": 1,
        "data": {"source": "file", "file": "d.csv"},
        "outcome": {"name": "y"},
        "levels": [
            {"name": "occasion", "predictors": {"t": {"type": "continuous"}}},
            {"name": "subject", "id": "subj", "predictors": {}},
        ],
        "models": [{"name": "m0"}, {"name": "m1", "add_fixed": ["t"]}],
        "estimation": {"estimators": ["reml"], "residual": residual},
    }


def data() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    rows = []
    for s in range(1, 9):
        u = rng.normal()
        for k in range(5):
            rows.append({"subj": s, "occ": k, "t": k * 0.5, "tlabel": f"w{k}",
                         "y": round(10 + u + 0.8 * k + float(rng.normal()), 3)})  # fmt: skip
    return pd.DataFrame(rows)


@pytest.fixture
def case(template, tmp_path):  # noqa: F811
    def make(residual: dict, df: pd.DataFrame | None = None) -> Case:
        raw = csv_bytes(data() if df is None else df)
        return Case(template, tmp_path, plan(residual), raw, "d.csv")

    return make


def test_an_unknown_residual_structure(case):
    c = case({"correlation": "arma(~ occ | subj)"}).run()
    assert c.rc != 0
    c.line("estimation.residual.correlation: 'arma(~ occ | subj)' is not understood",
           "'ar1(~ occasion | subject)'")  # fmt: skip


def test_car1_on_a_non_numeric_time(case):
    c = case({"correlation": "car1(~ tlabel | subj)"}).run(FIT)
    assert c.rc != 0
    c.line("fit: correlation: car1 needs a numeric 'tlabel' (got str)")


@pytest.mark.slow  # fits a model (~80 s on busy cores); tests/engine covers the check fast
def test_ar1_with_duplicated_occasions_within_a_subject(case):
    df = data()
    df.loc[(df["subj"] == 3) & (df["occ"] == 4), "occ"] = 3  # subject 3 has occasion 3 twice
    c = case({"correlation": "ar1(~ occ | subj)"}, df).run(FIT)
    assert c.rc != 0
    c.line("duplicate occasions of 'occ' within 'subj' 3 (rows 13 and 14)")
