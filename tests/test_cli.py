import json

import numpy as np
import pandas as pd

from mlmpipe.cli import main
from mlmpipe.plan import load_plan


def test_init_writes_a_valid_starter_plan(tmp_path, capsys):
    data = tmp_path / "mine.csv"
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(10), 5)
    pd.DataFrame({"school": g, "y": rng.normal(size=50), "x": rng.normal(size=50)}).to_csv(
        data, index=False
    )
    assert main(["init", str(tmp_path / "proj"), "--data", str(data)]) == 0
    plan = load_plan(tmp_path / "proj" / "config" / "analysis.yaml")
    assert plan.data["file"] == "mine.csv"
    assert (tmp_path / "proj" / "data" / "raw" / "mine.csv").exists()
    assert (tmp_path / "proj" / "config" / "schema" / "analysis.schema.yaml").exists()
    assert main(["init", str(tmp_path / "proj")]) == 2  # refuses to overwrite


def test_fit_prints_summary_and_writes_json(tmp_path, capsys):
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(15), 8)
    y = 1 + rng.normal(size=15)[g] + rng.normal(size=g.size)
    pd.DataFrame({"g": g, "y": y}).to_csv(tmp_path / "d.csv", index=False)
    out = tmp_path / "r.json"
    rc = main(
        [
            "fit",
            "y ~ 1 + (1|g)",
            "--data",
            str(tmp_path / "d.csv"),
            "--json",
            str(out),
            "--backend",
            "statsmodels",
            "--ml",
        ]
    )
    assert rc == 0
    assert "Formula: y ~ 1 + (1|g)" in capsys.readouterr().out
    d = json.loads(out.read_text())
    assert d["reml"] is False and d["ngroups"] == {"g": 15}
