"""``mlmpipe init --data FILE``: the plan guessed from a three-level SPSS file with blank answers and
a -99 code (types, missing counts, IDs and nesting, levels, predictor levels, outcome), valid as a
plan; ``--describe`` prints the same as a table and writes nothing."""

import numpy as np
import pandas as pd
import pyreadstat
import pytest
import yaml

from mlmpipe.cli import main
from mlmpipe.data.describe import describe
from mlmpipe.init_plan import plan_from_description
from mlmpipe.plan import load_plan
from tests.project.three_level import write_three_level_sav


@pytest.fixture
def sav(tmp_path):
    path = tmp_path / "pupils.sav"
    write_three_level_sav(path)
    return path


def test_describe_guesses_types_missing_ids_levels_and_outcome(sav):
    d = describe(sav)
    types = {c.name: c.type for c in d.columns}
    assert types == {
        "student_id": "id",
        "class_id": "id",
        "school": "id",
        "score": "continuous",
        "ses": "continuous",
        "sex": "binary",
        "sector": "binary",
        "class_size": "continuous",
    }
    assert d.column("sex").n_blank == 2 and d.column("sex").n_missing == 2
    assert d.column("sex").values == ["f", "m"]  # the blanks are no third category
    assert d.column("ses").missing_codes == [(-99, 3)] and d.column("ses").n_missing == 3
    assert d.column("ses").min > -10  # the code is not part of the range
    assert d.column("sector").labels == {1.0: "public", 2.0: "private"}
    assert d.ids == ["class_id", "school"] and d.row_id == "student_id"
    assert d.relations == ["class_id nests in school"]
    assert d.levels == [("student", "student_id"), ("class", "class_id"), ("school", "school")]
    levels = {c.name: c.level for c in d.columns}
    assert levels["ses"] == levels["sex"] == "student"
    assert levels["class_size"] == "class" and levels["sector"] == "school"
    assert d.outcome == "score" and d.outcome_candidates == ["score", "ses"]


def test_describe_crossed_ids_and_ambiguous_outcome(tmp_path):
    rng = np.random.default_rng(2)
    n = 120
    df = pd.DataFrame(
        {
            "rater_id": np.tile(np.arange(6), 20),  # crossed with item: every pair occurs
            "item_id": np.repeat(np.arange(20), 6),
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
        }
    )
    df.to_csv(tmp_path / "x.csv", index=False)
    d = describe(tmp_path / "x.csv")
    assert set(d.ids) == {"rater_id", "item_id"}
    assert len(d.relations) == 1 and "crossed" in d.relations[0]
    assert d.outcome is None and d.outcome_candidates == ["a", "b"]


def test_init_data_writes_a_commented_valid_plan(sav, tmp_path, capsys):
    proj = tmp_path / "proj"
    assert main(["init", str(proj), "--data", str(sav)]) == 0
    text = (proj / "config" / "analysis.yaml").read_text()
    cfg = yaml.safe_load(text)
    assert [(lv["name"], lv.get("id")) for lv in cfg["levels"]] == [
        ("student", "student_id"),
        ("class", "class_id"),
        ("school", "school"),
    ]
    assert cfg["outcome"]["name"] == "score"
    assert set(cfg["levels"][0]["predictors"]) == {"ses", "sex"}
    assert cfg["levels"][0]["predictors"]["sex"] == {"type": "binary", "levels": ["f", "m"]}
    assert set(cfg["levels"][1]["predictors"]) == {"class_size"}
    assert set(cfg["levels"][2]["predictors"]) == {"sector"}
    assert cfg["models"][1]["add_fixed"] == ["cses", "meanses", "sex"]
    # every guess carries a comment saying what it rests on
    for line in text.splitlines():
        if line.strip().startswith(
            ("name: score", "id: ", "ses:", "sex:", "sector:", "class_size:")
        ):
            assert "# guess" in line, line
    assert cfg["data"]["missing_codes"] == {"ses": [-99]} and "2 blank" in text
    plan = load_plan(proj / "config" / "analysis.yaml", proj / "config/schema/analysis.schema.yaml")
    assert plan.outcome == "score"
    assert (proj / "data" / "raw" / "pupils.sav").exists()
    assert (proj / "Snakefile").exists() and (proj / "workflow" / "rules").is_dir()


def test_init_describe_prints_a_table_and_writes_nothing(sav, tmp_path, capsys):
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["init", "--data", str(sav), "--describe"]) == 0
    out = capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    row = next(line for line in out.splitlines() if line.startswith("ses "))
    assert "code -99: 3" in row and "student" in row
    assert "levels (lowest first): student [student_id] < class [class_id] < school [school]" in out
    assert "outcome: score (guess)" in out


def test_labelled_categorical_and_an_unnamed_id(tmp_path):
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(20), 5)
    df = pd.DataFrame(
        {
            "g": g.astype(float),  # no ID-like name: found by its repeating values
            "gsize": (10 + g * 3).astype(float),  # unique per g: the same partition, no 2nd ID
            "y": rng.normal(size=100),
            "edu": rng.integers(1, 4, 100).astype(float),  # labelled: never an ID
        }
    )
    path = tmp_path / "c.sav"
    pyreadstat.write_sav(
        df, str(path), variable_value_labels={"edu": {1.0: "low", 2.0: "mid", 3.0: "high"}}
    )
    d = describe(path)
    assert d.ids == ["g"] and d.levels == [("obs", None), ("g", "g")]
    assert d.column("edu").type == "categorical" and d.column("gsize").level == "g"
    text = plan_from_description(d)
    assert 'edu: {type: categorical, levels: ["low", "mid", "high"]}' in text
    assert d.outcome == "y"


def test_describe_shows_value_labels_and_declared_missing(tmp_path, capsys):
    from tests.fixtures.realworld.three_level_sav import write_schools_sav

    sav = tmp_path / "schools.sav"
    write_schools_sav(sav)
    assert main(["init", "--data", str(sav), "--describe"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line}
    assert rows["track"].endswith("1=academic, 2=general, 3=vocational")  # not 1.0, 2.0, 3.0
    assert rows["sector"].endswith("1=public, 2=private")
    assert "4 (declared -99: 4)" in rows["motiv"]  # SPSS user-missing, read as missing
    assert "3 (code -99: 3)" in rows["ses"]  # undeclared -99, a suspected code
    assert "3 (3 blank)" in rows["sex"] and rows["sex"].endswith("f, m")
    d = describe(sav)
    assert d.levels == [("student", "student"), ("class", "class"), ("school", "school")]
    assert d.column("class_size").level == "class" and d.column("sector").level == "school"
