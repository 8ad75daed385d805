"""The validate step of the bundled crossed and membership examples (no Snakemake): the audit
and the membership summary land in the checks report; a long membership table is joined."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mlmpipe.data.example import load_example
from mlmpipe.data.mobility import membership_long
from mlmpipe.plan import load_plan
from mlmpipe.steps.data import validate_step

ROOT = Path(__file__).resolve().parents[2]


def test_scotssec_example_and_its_audit():
    raw = load_example("scotssec")
    assert raw.shape == (3435, 7) and list(raw["sex"].cat.categories) == ["M", "F"]
    plan = load_plan(ROOT / "config/examples/scotssec_crossed.yaml")
    clean, report, _ = validate_step(raw, plan.validate_slice().to_json())
    assert "second" in clean.columns
    rel = {(p["a"], p["b"]): p["relation"] for p in report["id_structure"]}
    assert rel[("primary", "second")] == "crossed"
    lines = [c["message"] for c in report["checks"] if c["name"] == "classification"]
    assert lines == [
        "second IDs are crossed with primaries as declared: 303 second x primary cells of "
        "2,812 (89.2% empty)"
    ]


def test_mobility_long_table_through_the_validate_step(tmp_path, monkeypatch):
    wide = load_example("mobility")
    membership_long(wide).to_csv(tmp_path / "mobility_long.csv", index=False)
    monkeypatch.chdir(tmp_path)  # the table path is relative to the project
    plan_text = (ROOT / "config/examples/mobility_mm.yaml").read_text()
    plan_text = plan_text.replace(
        "  columns: [school1, school2, school3]\n  weights: [days1, days2, days3]\n",
        "  table: mobility_long.csv\n  unit: student\n  cluster: school_id\n  weight: days\n",
    )
    (tmp_path / "plan.yaml").write_text(plan_text)
    plan = load_plan(tmp_path / "plan.yaml")
    assert "mm(school_mm1, school_mm2, school_mm3" in plan.model("m1_x").formula
    raw = wide[["student", "x", "y", "school1"]]
    clean, report, _ = validate_step(raw, plan.validate_slice().to_json())
    summary = next(c for c in report["checks"] if c["name"] == "membership")["details"]
    assert summary == {"units": 3000, "clusters": 60, "movers": 738}
    # the pivoted days per student are the wide data's
    got = clean[["school_mmw1", "school_mmw2", "school_mmw3"]].sum(axis=1)
    pd.testing.assert_series_equal(
        got, wide[["days1", "days2", "days3"]].sum(axis=1), check_names=False
    )
    assert list(raw.columns) == ["student", "x", "y", "school1"]  # raw data untouched
