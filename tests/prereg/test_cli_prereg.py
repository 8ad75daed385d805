"""``mlmpipe prereg freeze|diff`` on a copy of the example plan."""

import shutil
from pathlib import Path

from mlmpipe.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_freeze_then_diff_exit_codes(tmp_path, monkeypatch, capsys):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    monkeypatch.chdir(tmp_path)
    assert main(["prereg", "diff"]) == 2  # nothing frozen yet: one-line error
    assert "no preregistration frozen" in capsys.readouterr().err
    assert main(["prereg", "freeze"]) == 0
    out = capsys.readouterr().out
    assert "plan SHA-256" in out and "did not exist" in out  # example data not fetched yet
    assert (tmp_path / "prereg/preregistration.md").exists()
    assert main(["prereg", "freeze"]) == 2  # a registration is not overwritten silently
    assert main(["prereg", "diff"]) == 0
    assert "no deviations" in capsys.readouterr().out
    plan = tmp_path / "config/analysis.yaml"
    plan.write_text(plan.read_text().replace("alpha: 0.05", "alpha: 0.01"))
    assert main(["prereg", "diff"]) == 1
    out = capsys.readouterr().out
    assert "[UNEXPLAINED] alpha" in out and "registered: 0.05" in out
    plan.write_text(plan.read_text() + '\ndeviations:\n  alpha: "reviewer asked for 0.01"\n')
    assert main(["prereg", "diff"]) == 0
    assert "justification (alpha): reviewer asked for 0.01" in capsys.readouterr().out
