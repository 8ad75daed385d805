"""Freezing the plan, the preregistration document, and deviations of the executed plan."""

import json
import shutil
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pypandoc
import pytest
import yaml

from mlmpipe.errors import PlanError
from mlmpipe.plan import load_plan
from mlmpipe.prereg import deviation_report, diff_plans, format_deviations, freeze_plan, load_frozen
from mlmpipe.prereg.diff import flatten

ROOT = Path(__file__).resolve().parents[2]
GRAND = "disclim: {type: continuous, centering: grand}"
NONE = "disclim: {type: continuous, centering: none}"
KEY = "levels.school.predictors.disclim.centering"


@pytest.fixture
def project(tmp_path):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    (tmp_path / "data" / "raw").mkdir(parents=True)
    (tmp_path / "data" / "raw" / "hsb.csv").write_text("school,mAch\n1,2\n")
    return tmp_path


def freeze(project, **kw):
    return freeze_plan(
        project / "config/analysis.yaml", root=project, now=datetime(2026, 1, 2, tzinfo=UTC), **kw
    )


def executed(project):
    return load_plan(project / "config/analysis.yaml")


def edit(project, old, new):
    p = project / "config/analysis.yaml"
    text = p.read_text()
    assert old in text
    p.write_text(text.replace(old, new))


def add_justification(project, key, text):
    p = project / "config/analysis.yaml"
    cfg = yaml.safe_load(p.read_text())
    cfg.setdefault("deviations", {})[key] = text
    p.write_text(yaml.safe_dump(cfg, sort_keys=False))


def test_freeze_writes_plan_hash_data_hash_versions_and_documents(project):
    rec = freeze(project)
    plan = executed(project)
    assert rec["plan_sha256"] == plan.hash and rec["frozen_at"] == "2026-01-02T00:00:00+00:00"
    assert len(rec["raw_sha256"]) == 64 and rec["packages"]["numpy"]
    frozen, record = load_frozen(project)
    assert frozen == plan.config and record == json.loads(
        (project / "prereg/freeze.json").read_text()
    )
    text = (project / "prereg/plan.frozen.json").read_text()
    assert list(json.loads(text)) == sorted(json.loads(text))  # canonical: sorted keys
    md = (project / "prereg/preregistration.md").read_text()
    for heading in (
        "Study information",
        "Hypotheses",
        "Data description",
        "Variables",
        "Knowledge of the data",
        "Decision rules for estimation problems",
        "Freeze record",
    ):
        assert heading in md
    assert "| disclim | school | predictor | continuous | grand | `cdisclim` |" in md
    assert plan.model("m4_cross").formula.replace("|", "\\|") in md
    assert rec["raw_sha256"] in md
    assert "<table>" in (project / "prereg/preregistration.html").read_text()


def test_freeze_writes_a_valid_docx_with_the_document_text(project):
    """pypandoc-binary is a dependency, so the DOCX is always written: a Word package (zip with
    ``word/document.xml``) whose text is the preregistration's (read back with pandoc)."""
    rec = freeze(project)
    assert rec["documents"]["docx"] == "preregistration.docx"
    assert rec["documents"]["docx_note"] is None
    path = project / "prereg/preregistration.docx"
    assert path.is_file()
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        names = set(z.namelist())
        assert {"[Content_Types].xml", "word/document.xml"} <= names
        xml = z.read("word/document.xml").decode("utf-8")
    assert "Study information" in xml
    text = pypandoc.convert_file(str(path), "plain", format="docx")
    for heading in ("Study information", "Hypotheses", "Decision rules for estimation problems"):
        assert heading in text
    assert rec["raw_sha256"] in text
    assert "cdisclim" in text


def test_freeze_refuses_to_overwrite_and_detects_an_edited_frozen_plan(project):
    freeze(project)
    with pytest.raises(PlanError, match="already frozen"):
        freeze(project)
    p = project / "prereg/plan.frozen.json"
    p.write_text(p.read_text().replace('"alpha": 0.05', '"alpha": 0.1'))
    with pytest.raises(PlanError, match="edited after freezing"):
        load_frozen(project)


def test_missing_raw_data_is_recorded_not_hashed(project):
    (project / "data/raw/hsb.csv").unlink()
    rec = freeze(project)
    assert rec["raw_sha256"] is None and "did not exist" in rec["raw_note"]


def test_unchanged_plan_has_no_deviations(project):
    freeze(project)
    frozen, record = load_frozen(project)
    rep = deviation_report(frozen, executed(project).config, record)
    assert (
        rep["n_deviations"] == 0 and rep["message"] == "no deviations from the preregistered plan"
    )


def test_one_centering_edit_is_exactly_one_unexplained_deviation_until_justified(project):
    freeze(project)
    frozen, record = load_frozen(project)
    edit(project, GRAND, NONE)
    rep = deviation_report(frozen, executed(project).config, record)
    assert [d["key"] for d in rep["deviations"]] == [KEY]
    d = rep["deviations"][0]
    assert (d["registered"], d["executed"], d["explained"]) == ("grand", "none", False)
    assert rep["n_unexplained"] == 1 and "UNEXPLAINED" in format_deviations(rep)
    add_justification(project, KEY, "disclim is only described, never modelled")
    rep = deviation_report(frozen, executed(project).config, record)
    assert rep["n_deviations"] == 1 and rep["n_unexplained"] == 0
    assert rep["deviations"][0]["justification"] == "disclim is only described, never modelled"
    assert "UNEXPLAINED" not in format_deviations(rep)


def test_prefix_justification_named_lists_and_unused_justifications():
    a = {
        "models": [{"name": "m0", "add_fixed": []}, {"name": "m1", "add_fixed": ["x"]}],
        "alpha": 0.05,
    }
    b = {
        "models": [
            {"name": "m0", "add_fixed": []},
            {"name": "mX", "add_fixed": []},
            {"name": "m1", "add_fixed": ["x", "z"]},
        ],
        "alpha": 0.05,
        "deviations": {"models.m1": "z added after review", "alpha": "typo"},
    }
    assert flatten(a)["models.m1.add_fixed"] == ["x"]
    keys = [d["key"] for d in diff_plans(a, b)]
    assert keys == ["models.m1.add_fixed", "models.mX.add_fixed"]  # inserting mX shifts nothing
    rep = deviation_report(a, b)
    assert [d["explained"] for d in rep["deviations"]] == [True, False]
    assert rep["deviations"][1]["registered"] == "<absent>"
    assert rep["unused_justifications"] == ["alpha"]


def test_no_frozen_plan_says_so():
    rep = deviation_report(None, {"alpha": 0.05})
    assert not rep["frozen"] and rep["message"] == "no preregistration frozen"
