"""Raw-data integrity: plan paths inside the project, read-only raw files, the SHA-256 guard of
``mlmpipe run``, and the frozen data hash against the analysed one (``mlmpipe prereg diff``)."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
import yaml

from mlmpipe.cli import main
from mlmpipe.data import fetch_example
from mlmpipe.errors import MlmpipeError, PlanError
from mlmpipe.integrity import RawGuard
from mlmpipe.plan import load_plan
from mlmpipe.prereg.diff import deviations_step
from mlmpipe.prereg.tables import deviation_summary
from tests.test_run_interrupt import READERS, run

ROOT = Path(__file__).resolve().parents[1]


def write_plan(path: Path, **data) -> Path:
    cfg = yaml.safe_load((ROOT / "config/examples/sleepstudy.yaml").read_text())
    cfg["data"] = {"source": "file", "file": "d.csv", **data}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def writable(path: Path) -> bool:
    return bool(path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


@pytest.mark.parametrize(
    "file",
    ["../d.csv", "sub/../../d.csv", "/etc/passwd", "~/d.csv", "C:\\data\\d.csv", "..\\d.csv"],
)
def test_a_plan_path_outside_the_project_is_a_one_line_error_naming_the_key(tmp_path, file):
    with pytest.raises(PlanError) as exc:
        load_plan(write_plan(tmp_path / "analysis.yaml", file=file))
    msg = str(exc.value)
    assert msg.startswith("data.file: ") and repr(file) in msg and "\n" not in msg


def test_a_file_in_a_subfolder_of_data_raw_is_allowed(tmp_path):
    assert load_plan(write_plan(tmp_path / "a.yaml", file="wave1/d.csv")).data.file == "wave1/d.csv"


def test_fetched_and_init_copied_raw_files_are_read_only(tmp_path, capsys):
    out = fetch_example("sleepstudy", tmp_path / "raw/sleepstudy.csv")
    assert not writable(out)
    src = tmp_path / "mine.csv"
    src.write_text("y,g\n1,1\n")
    assert main(["init", str(tmp_path / "proj"), "--data", str(src)]) == 0
    dest = tmp_path / "proj/data/raw/mine.csv"
    assert not writable(dest) and writable(src)  # the user's own copy is left as it was
    src.write_text("y,g\n2,1\n")  # other content under the same name: raw data are not overwritten
    assert main(["init", str(tmp_path / "proj"), "--data", str(src), "--force"]) == 2
    assert "exists with other content" in capsys.readouterr().err
    assert dest.read_text() == "y,g\n1,1\n"


def test_raw_guard_fails_when_the_file_changes_or_vanishes(tmp_path):
    raw = tmp_path / "d.csv"
    raw.write_text("a\n1\n")
    g = RawGuard.start(raw)
    assert g.check_after() == g.before
    raw.write_text("a\n2\n")
    with pytest.raises(MlmpipeError, match=r"changed during the run \(SHA-256 [0-9a-f]{12}"):
        g.check_after()
    raw.unlink()
    with pytest.raises(MlmpipeError, match="deleted after"):
        g.check_after()


def guarded_project(tmp_path: Path, rule: str) -> Path:
    """A project with a valid plan on data/raw/d.csv and a Snakefile of its own."""
    d = tmp_path / "p"
    write_plan(d / "config/analysis.yaml")
    (d / "data/raw").mkdir(parents=True)
    (d / "data/raw/d.csv").write_text("Subject,Days,Reaction\n1,0,250\n")
    (d / "Snakefile").write_text(rule)
    return d


def test_mlmpipe_run_fails_when_the_raw_file_changes_during_the_run(tmp_path):
    d = guarded_project(
        tmp_path,
        'rule all:\n    output: "reports/x.txt"\n'
        '    shell: "echo 1,1,1 >> data/raw/d.csv; echo x > {output}"\n',
    )
    rc, out = run(d)
    lines = [x for x in out.splitlines() if x.startswith("mlmpipe")]
    assert rc == 2 and len(lines) == 1, out
    assert "data/raw/d.csv changed during the run" in lines[0] and "Traceback" not in out


def test_data_swapped_since_the_last_run_reruns_the_readers_even_with_an_old_mtime(tmp_path):
    rules = 'rule all:\n    input: "reports/checks.json", "reports/provenance.json"\n' + READERS
    d = guarded_project(tmp_path, rules)
    raw = d / "data/raw/d.csv"
    rc, out = run(d)
    assert rc == 0, out
    first = (d / "reports/checks.json").read_text()
    st = raw.stat()
    raw.write_text("Subject,Days,Reaction\n1,0,999\n")
    os.utime(raw, ns=(st.st_atime_ns, st.st_mtime_ns - 10**10))  # older than the outputs
    rc, out = run(d)
    assert rc == 0, out
    assert "mlmpipe: data/raw/d.csv changed since the last run" in out
    assert (d / "reports/checks.json").read_text() != first
    rc, out = run(d)
    assert rc == 0 and "changed since" not in out and "Nothing to be done" in out, out


@pytest.fixture
def frozen_project(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    raw = tmp_path / "data/raw/hsb.csv"
    raw.parent.mkdir(parents=True)
    raw.write_text("school,mAch\n1,2\n")
    monkeypatch.chdir(tmp_path)
    assert main(["prereg", "freeze"]) == 0
    return tmp_path


def test_other_data_after_freezing_is_a_deviation_that_needs_a_justification(
    frozen_project, capsys
):
    capsys.readouterr()
    assert main(["prereg", "diff"]) == 0
    assert "(as frozen)" in capsys.readouterr().out
    (frozen_project / "data/raw/hsb.csv").write_text("school,mAch\n1,3\n")
    assert main(["prereg", "diff"]) == 1
    out = capsys.readouterr().out
    assert "[UNEXPLAINED] data.sha256" in out and "1 unexplained" in out
    rep = deviations_step(
        load_plan("config/analysis.yaml").config, ".", raw_file="data/raw/hsb.csv"
    )
    assert [x["key"] for x in rep["deviations"]] == ["data.sha256"]
    assert "are not the data frozen" in deviation_summary(rep)
    plan = frozen_project / "config/analysis.yaml"
    plan.write_text(
        plan.read_text() + '\ndeviations:\n  data.sha256: "corrected file of 2026-03"\n'
    )
    assert main(["prereg", "diff"]) == 0
    assert "justification (data.sha256): corrected file of 2026-03" in capsys.readouterr().out


def test_data_not_hashed_at_freezing_is_said_not_compared(tmp_path, monkeypatch, capsys):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    monkeypatch.chdir(tmp_path)
    assert main(["prereg", "freeze"]) == 0  # the example is not fetched yet
    (tmp_path / "data/raw").mkdir(parents=True)
    (tmp_path / "data/raw/hsb.csv").write_text("school,mAch\n1,2\n")
    capsys.readouterr()
    assert main(["prereg", "diff"]) == 0
    assert "data SHA-256 not compared: the raw data were not hashed at freezing" in (
        capsys.readouterr().out
    )
