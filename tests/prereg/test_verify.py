"""Artifact comparison behind ``mlmpipe verify`` on small artifacts (the full rerun is slow)."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from mlmpipe.prereg.verify import (
    certificate,
    compare_json,
    compare_trees,
    pipeline_outputs,
    verify,
)


def make_tree(root, ses=0.123456789, created="2026-01-01T00:00:00"):
    (root / "reports/fits/m0/reml").mkdir(parents=True)
    (root / "data/processed").mkdir(parents=True)
    (root / "data/raw").mkdir(parents=True)
    fit = {
        "deviance": 46503.6628689911,
        "fixed": [{"term": "cses", "estimate": ses}],
        "optimizer": {"seconds": 0.1234, "feval": 51},
        "converged": True,
    }
    (root / "reports/fits/m0/reml/imp0.json").write_text(json.dumps(fit))
    prov = {"plan_sha256": "a" * 64, "raw_sha256": "b" * 64, "seed": 1, "created": created}
    (root / "reports/provenance.json").write_text(json.dumps(prov))
    df = pd.DataFrame({"school": pd.Categorical(["1", "2"]), "cses": [ses, -ses]})
    df.to_parquet(root / "data/processed/imp0.parquet", index=False)
    df.to_csv(root / "reports/table.csv", index=False)
    (root / "reports/figure.png").write_bytes(b"\x89PNG fixed bytes")
    (root / "reports/report.html").write_text(f"<p>rendered at {created}</p>")
    (root / "data/raw/hsb.csv").write_text("x\n1\n")


@pytest.fixture
def trees(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    make_tree(a)
    make_tree(b, created="2026-02-02T10:00:00")  # wall clock differs, nothing else
    return a, b


def test_identical_reruns_pass_and_volatile_values_and_report_are_not_compared(trees):
    a, b = trees
    (b / "reports/fits/m0/reml/imp0.json").write_text(
        (b / "reports/fits/m0/reml/imp0.json")
        .read_text()
        .replace('"seconds": 0.1234', '"seconds": 9.9')
    )
    res = compare_trees(a, b)
    assert res["passed"] and res["n_compared"] == 5 and res["n_differ"] == 0
    assert set(res["excluded"]) == {"reports/report.html", "data/raw/hsb.csv"}
    cert = certificate(res, a, b, 1.0)
    assert cert["passed"] and cert["same_plan"] and cert["same_data"]


def test_numbers_within_tolerance_pass_and_beyond_fail(tmp_path):
    assert compare_json({"x": 1.0, "y": [2.0, "s"]}, {"x": 1.0 + 1e-13, "y": [2.0, "s"]}) == []
    assert compare_json({"x": 1.0}, {"x": 1.0 + 1e-8}) == ["x: 1.0 != 1.00000001"]
    assert compare_json({"x": 0.0, "n": None}, {"x": 0.0, "n": None}) == []
    assert compare_json({"x": float("nan")}, {"x": float("nan")}) == []
    assert compare_json({"a": [1, 2]}, {"a": [1]}) == ["a: length 2 != 1"]
    assert compare_json({"flag": True}, {"flag": 1}) == ["flag: True != 1"]
    a, b = tmp_path / "a", tmp_path / "b"
    make_tree(a)
    make_tree(b, ses=0.123456789 * (1 + 1e-12))
    assert compare_trees(a, b)["passed"]


@pytest.mark.parametrize(
    "tamper, path",
    [
        (
            lambda b: (b / "reports/fits/m0/reml/imp0.json").write_text(
                (b / "reports/fits/m0/reml/imp0.json")
                .read_text()
                .replace("46503.6628689911", "46503.6628")
            ),
            "reports/fits/m0/reml/imp0.json",
        ),
        (
            lambda b: pd.DataFrame(
                {"school": pd.Categorical(["1", "2"]), "cses": [0.2, -0.2]}
            ).to_parquet(b / "data/processed/imp0.parquet", index=False),
            "data/processed/imp0.parquet",
        ),
        (
            lambda b: (b / "reports/table.csv").write_text("school,cses\n1,0.5\n2,-0.5\n"),
            "reports/table.csv",
        ),
        (
            lambda b: (b / "reports/figure.png").write_bytes(b"\x89PNG other bytes"),
            "reports/figure.png",
        ),
        (lambda b: (b / "reports/figure.png").unlink(), "reports/figure.png"),
    ],
)
def test_a_tampered_artifact_fails(trees, tamper, path):
    a, b = trees
    tamper(b)
    res = compare_trees(a, b)
    assert not res["passed"] and res["n_differ"] == 1
    bad = [f for f in res["files"] if f["status"] != "same"]
    assert bad[0]["path"] == path


def test_different_data_hash_fails_the_certificate(trees):
    a, b = trees
    prov = json.loads((b / "reports/provenance.json").read_text())
    prov["raw_sha256"] = "c" * 64
    (b / "reports/provenance.json").write_text(json.dumps(prov))
    res = compare_trees(a, b)
    cert = certificate(res, a, b, 1.0)
    assert not cert["passed"] and not cert["same_data"]


def test_parquet_dtype_change_is_a_difference(trees):
    a, b = trees
    df = pd.read_parquet(b / "data/processed/imp0.parquet")
    df["cses"] = df["cses"].astype(np.float32)
    df.to_parquet(b / "data/processed/imp0.parquet", index=False)
    assert not compare_trees(a, b)["passed"]


def test_empty_trees_do_not_pass(tmp_path):
    (tmp_path / "a").mkdir()
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert not compare_trees(tmp_path / "a", tmp_path / "b")["passed"]


def _docx(path, text, when):
    import zipfile

    core = (
        '<cp:coreProperties xmlns:cp="x" xmlns:dcterms="y"><dc:title>T</dc:title>'
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{when}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{when}</dcterms:modified></cp:coreProperties>'
    )
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("docProps/core.xml", core)
        z.writestr("word/document.xml", f"<w:t>{text}</w:t>")


def test_docx_compared_by_content_ignoring_creation_times(trees):
    a, b = trees
    _docx(a / "reports/table.docx", "12.64", "2026-01-01T00:00:00Z")
    _docx(b / "reports/table.docx", "12.64", "2026-02-02T10:11:12Z")
    res = compare_trees(a, b)
    assert res["passed"]
    assert {f["path"]: f["how"] for f in res["files"]}["reports/table.docx"] == "document content"
    _docx(b / "reports/table.docx", "12.65", "2026-02-02T10:11:12Z")
    bad = [f for f in compare_trees(a, b)["files"] if f["status"] != "same"]
    assert bad == [
        {
            "path": "reports/table.docx",
            "how": "document content",
            "status": "differs",
            "differences": ["part word/document.xml differs"],
        }
    ]


def test_fit_records_compared_by_json_numbers_and_array_content(tmp_path):
    """A fit record is a JSON summary + an .npz of arrays; the arrays are compared by value (the
    zip members of an .npz carry write times, so equal records need not be equal bytes)."""
    from mlmpipe.record import FitRecord

    def tree(root, theta):
        (root / "reports/fits/m0/reml").mkdir(parents=True)
        rec = FitRecord.from_dict(
            {
                "formula": "y ~ x + (1 | g)",
                "fixed": [{"term": "x", "estimate": 0.5}],
                "theta": theta,
                "ranef": {"g": {"levels": ["a", "b"], "terms": ["(Intercept)"], "values": [1, -1]}},
            }
        )
        rec.save(root / "reports/fits/m0/reml/imp0.json")

    tree(tmp_path / "a", [0.25, 1.5])
    tree(tmp_path / "b", [0.25 * (1 + 1e-12), 1.5])
    res = compare_trees(tmp_path / "a", tmp_path / "b")
    assert res["passed"] and res["n_compared"] == 2
    assert {f["path"]: f["how"] for f in res["files"]}["reports/fits/m0/reml/imp0.npz"] == (
        "array content"
    )
    tree(tmp_path / "c", [0.25 * (1 + 1e-8), 1.5])
    bad = [
        f for f in compare_trees(tmp_path / "a", tmp_path / "c")["files"] if f["status"] != "same"
    ]
    assert [f["path"] for f in bad] == ["reports/fits/m0/reml/imp0.npz"]
    assert bad[0]["differences"][0].startswith("theta: 1 value(s) differ, first at [0]")


def test_only_what_the_pipeline_writes_is_compared(trees):
    a, b = trees
    outputs = [
        "reports/fits/m0/reml/imp0.json",
        "reports/provenance.json",
        "data/processed/imp0.parquet",
        "reports/table.csv",
        "reports/figure.png",
        "reports/report.html",
    ]
    (a / "reports/.gitkeep").write_text("")  # tracked in the project, never written by a rule
    assert not compare_trees(a, b)["passed"]  # without the DAG's outputs it is "missing"
    res = compare_trees(a, b, outputs=outputs)
    assert res["passed"] and res["n_compared"] == 5, res["files"]
    assert res["excluded"]["reports/.gitkeep"].startswith("not written by the pipeline")
    (a / "reports/figure.png").unlink()  # a real output missing from one side still fails
    res = compare_trees(b, a, outputs=outputs)
    assert not res["passed"]
    assert [f["path"] for f in res["files"] if f["status"] != "same"] == ["reports/figure.png"]
    (a / "reports/figures").mkdir()  # files below a directory() output are outputs
    (a / "reports/figures/f.svg").write_text("<svg/>")
    res = compare_trees(a, b, outputs=[*outputs, "reports/figures"])
    assert "reports/figures/f.svg" in [f["path"] for f in res["files"]]


def test_pipeline_outputs_lists_the_dag_outputs(tmp_path):
    (tmp_path / "Snakefile").write_text(
        'rule all:\n    input: "reports/a.txt", "reports/figs"\n'
        'rule a:\n    output: "reports/a.txt"\n    shell: "echo a > {output}"\n'
        'rule f:\n    output: directory("reports/figs")\n    shell: "mkdir -p {output}"\n'
    )
    assert sorted(pipeline_outputs(tmp_path)) == ["reports/a.txt", "reports/figs"]


def test_verify_ignores_a_tracked_placeholder_no_rule_writes(tmp_path):
    (tmp_path / "Snakefile").write_text(
        'rule all:\n    input: "reports/a.txt", "reports/provenance.json"\n'
        'rule a:\n    output: "reports/a.txt"\n    shell: "echo a > {output}"\n'
        'rule provenance:\n    output: "reports/provenance.json"\n'
        '    shell: "echo \'{{\\"plan_sha256\\": \\"p\\", \\"raw_sha256\\": \\"r\\"}}\' > {output}"\n'
    )
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports/.gitkeep").write_text("")
    res = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "1", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    cert = verify(tmp_path, cores=1)
    assert cert["passed"] and cert["n_compared"] == 2, cert["files"]
    assert cert["excluded"]["reports/.gitkeep"].startswith("not written by the pipeline")
