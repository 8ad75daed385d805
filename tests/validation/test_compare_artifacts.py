"""validation/compare_artifacts.py diff: flattening, the npz merge, the 1e-10 relative tolerance,
layout changes and volatile values, on tiny synthetic artifact trees."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "validation" / "compare_artifacts.py"
_spec = importlib.util.spec_from_file_location("compare_artifacts", SCRIPT)
ca = importlib.util.module_from_spec(_spec)
sys.modules["compare_artifacts"] = ca
_spec.loader.exec_module(ca)

FIT = {
    "formula": "y ~ 1 + x + (1 | g)",
    "sigma": 2.5,
    "theta": [0.75],
    "fixed": [{"term": "(Intercept)", "estimate": 10.0}, {"term": "x", "estimate": -0.5}],
    "ranef": {"g": {"levels": ["a", "b"], "values": [[0.25], [-0.25]]}},
    "optimizer": {"seconds": 0.01, "objective": 123.0},
}


def write_tree(root: Path, fit: dict, *, table: pd.DataFrame | None = None) -> Path:
    """One example ``ex`` with a fit JSON, a Parquet and a CSV table and a figure."""
    fits = root / "ex" / "reports" / "fits" / "m0" / "reml"
    fits.mkdir(parents=True)
    (fits / "imp0.json").write_text(json.dumps(fit))
    table = table if table is not None else pd.DataFrame({"id": ["a", "b"], "r": [0.5, 1e-3]})
    table.to_parquet(fits / "imp0_resid.parquet")
    table.to_csv(root / "ex" / "reports" / "table.csv", index=False)
    (root / "ex" / "reports" / "report.html").write_text("<html></html>")
    (root / "run.json").write_text(json.dumps({"examples": {"ex": {"wall_s": 1.0}}}))
    return root


def scaled(fit: dict, factor: float) -> dict:
    out = json.loads(json.dumps(fit))
    out["sigma"] *= factor
    return out


def test_flatten_nested_json_and_tables() -> None:
    leaves = dict(ca.flatten(FIT))
    assert leaves["fixed/1/estimate"] == -0.5
    assert leaves["ranef/g/values/1/0"] == -0.25
    assert leaves["ranef/g/levels/0"] == "a"
    assert dict(ca.flatten({"w": [], "d": {}})) == {"w": "[]", "d": "{}"}
    cells = ca.flatten_table(pd.DataFrame({"r": [1.5, np.nan]}, index=pd.Index([7, 9], name="k")))
    assert cells["k/1"] == 9 and cells["r/0"] == 1.5 and math.isnan(cells["r/1"])


def test_npz_merged_into_sibling_json_compares_with_old_json_paths(tmp_path: Path) -> None:
    before = write_tree(tmp_path / "before", FIT)
    moved = {k: v for k, v in FIT.items() if k != "theta"}
    moved["ranef"] = {"g": {"levels": ["a", "b"], "values": {"$array": "ranef/g/values"}}}
    after = write_tree(tmp_path / "after", moved)
    npz = after / "ex" / "reports" / "fits" / "m0" / "reml" / "imp0.npz"
    np.savez(npz, theta=np.array([0.75]), **{"ranef/g/values": np.array([[0.25], [-0.25]])})
    rep = ca.compare_trees(before, after)
    assert rep.ok, ca.format_report(rep)
    assert rep.files_only_after == ["ex/reports/fits/m0/reml/imp0.npz"]
    assert rep.keys_only_before == {} and rep.keys_only_after == {}

    np.savez(npz, theta=np.array([0.75]), **{"ranef/g/values": np.array([[0.25], [-0.26]])})
    rep = ca.compare_trees(before, after)
    assert [m[0] for m in rep.numeric_mismatches] == [
        "ex/reports/fits/m0/reml/imp0.json::ranef/g/values/1/0"
    ]


@pytest.mark.parametrize(("factor", "ok"), [(1 + 1e-12, True), (1 + 1e-8, False)])
def test_relative_tolerance(tmp_path: Path, factor: float, ok: bool) -> None:
    before = write_tree(tmp_path / "before", FIT)
    table = pd.DataFrame({"id": ["a", "b"], "r": [0.5, 1e-3 * factor]})
    after = write_tree(tmp_path / "after", scaled(FIT, factor), table=table)
    rep = ca.compare_trees(before, after)
    assert rep.ok is ok
    assert rep.numeric_compared == rep.numeric_equal + len(rep.numeric_mismatches)
    if not ok:
        paths = sorted(m[0] for m in rep.numeric_mismatches)
        assert paths == [
            "ex/reports/fits/m0/reml/imp0.json::sigma",
            "ex/reports/fits/m0/reml/imp0_resid.parquet::r/1",
            "ex/reports/table.csv::r/1",
        ]
        assert all(m[3] == pytest.approx(1e-8, rel=1e-3) for m in rep.numeric_mismatches)
        assert ca.main(["diff", str(before), str(after)]) == 1


def test_numbers_equal_edge_cases() -> None:
    assert ca.numbers_equal(0.0, 1e-301, 1e-10)
    assert not ca.numbers_equal(0.0, 1e-200, 1e-10)
    assert ca.numbers_equal(math.nan, math.nan, 1e-10)
    assert ca.numbers_equal(math.inf, math.inf, 1e-10)
    assert not ca.numbers_equal(math.inf, 1e308, 1e-10)
    assert not ca.numbers_equal(1.0, math.nan, 1e-10)


def test_null_equals_nan_and_text_changes_fail(tmp_path: Path) -> None:
    before = write_tree(tmp_path / "before", {**FIT, "p": math.nan, "label": "REML"})
    after = write_tree(tmp_path / "after", {**FIT, "p": None, "label": "REML"})
    assert ca.compare_trees(before, after).ok
    (after / "ex/reports/fits/m0/reml/imp0.json").write_text(json.dumps({**FIT, "label": "ML"}))
    rep = ca.compare_trees(before, after)
    assert not rep.ok and rep.text_mismatches[0][1:] == ("REML", "ML")


def test_layout_changes_are_listed_not_failures(tmp_path: Path) -> None:
    before = write_tree(tmp_path / "before", FIT)
    after_fit = {k: v for k, v in FIT.items() if k != "ranef"} | {
        "schema_version": 1,
        "modes": [-0.25, 0.25 * (1 + 1e-12)],
    }
    after = write_tree(tmp_path / "after", after_fit)
    (before / "ex" / "reports" / "old.json").write_text("{}")
    (after / "ex" / "reports" / "figure.png").write_bytes(b"\x89PNG")
    rep = ca.compare_trees(before, after)
    assert rep.ok
    assert rep.files_only_before == ["ex/reports/old.json"]
    assert rep.files_only_after == ["ex/reports/figure.png"]
    assert rep.files_listed == ["ex/reports/report.html"]
    doc = "ex/reports/fits/m0/reml/imp0.json"
    assert rep.keys_only_after == {doc: ["modes/0", "modes/1", "schema_version"]}
    assert rep.moved_numbers[doc] == (2, 2)  # the two modes, found at their new key paths
    assert rep.keys_only_before[doc] == [
        "ranef/g/levels/0",
        "ranef/g/levels/1",
        "ranef/g/values/0/0",
        "ranef/g/values/1/0",
    ]
    text = ca.format_report(rep)
    assert (
        "ranef/g/values/*/*  (2 leaves)" in text
        and "file only after:  ex/reports/figure.png" in text
    )
    assert ca.main(["diff", str(before), str(after)]) == 0


def test_volatile_values_are_skipped(tmp_path: Path) -> None:
    before = write_tree(tmp_path / "before", FIT)
    after = write_tree(
        tmp_path / "after", {**FIT, "optimizer": {"seconds": 9.0, "objective": 123.0}}
    )
    for root, stamp, numpy in (
        (before, "2026-01-01T00:00", "2.0"),
        (after, "2026-02-02T11:11", "2.4"),
    ):
        prov = {"created": stamp, "packages": {"numpy": numpy}, "raw_sha256": "ab12"}
        (root / "ex" / "reports" / "provenance.json").write_text(json.dumps(prov))
    rep = ca.compare_trees(before, after)
    assert rep.ok, ca.format_report(rep)
    assert rep.volatile_skipped == 3
    assert rep.text_compared >= 1  # raw_sha256 (the data's hash) is still compared
    assert all(why for _, _, why in ca.VOLATILE)


def test_run_records_are_not_artifacts(tmp_path: Path) -> None:
    before = write_tree(tmp_path / "before", FIT)
    after = write_tree(tmp_path / "after", FIT)
    (after / "run.json").write_text(json.dumps({"examples": {"ex": {"wall_s": 99.0}}}))
    (after / "ex" / "logs").mkdir()
    (after / "ex" / "logs" / "fit.log").write_text("warning")
    (after / "ex" / "snakemake.log").write_text("done")
    rep = ca.compare_trees(before, after)
    assert rep.ok and rep.files_only_after == [] and rep.files_only_before == []


def test_run_builds_a_project_from_an_exported_revision(tmp_path: Path) -> None:
    src_root, commit = ca.export_revision("HEAD", tmp_path / "rev")
    assert len(commit) == 40 and (src_root / "src" / "mlmpipe" / "__init__.py").is_file()
    ca.make_project(src_root, ca.EXAMPLES["sleepstudy"], tmp_path / "project")
    plan = (tmp_path / "project" / "config" / "analysis.yaml").read_text()
    assert plan == (src_root / "config" / "examples" / "sleepstudy.yaml").read_text()
    assert (tmp_path / "project" / "Snakefile").is_file()
    assert (tmp_path / "project" / "data" / "raw").is_dir()
