"""The MNAR delta rule of a binary plan through Snakemake: the binary HSB example with 15% of the
outcome removed, imputed by PMM (m = 3) and shifted on the logit scale (slow, ~1-3 min)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.e2e
def test_binary_delta_rule(tmp_path):
    from mlmpipe.data.example import load_example

    shutil.copy2(ROOT / "Snakefile", tmp_path / "Snakefile")
    for name in ("workflow", "config"):
        shutil.copytree(ROOT / name, tmp_path / name)
    df = load_example("hsb_binary")
    df = df[df["school"].isin(df["school"].drop_duplicates().head(40))].reset_index(drop=True)
    df["proficient"] = df["proficient"].astype(float)
    df.loc[np.random.default_rng(7).random(len(df)) < 0.15, "proficient"] = np.nan
    (tmp_path / "data" / "raw").mkdir(parents=True)
    df.to_csv(tmp_path / "data/raw/hsb_binary_mis.csv", index=False)
    plan = yaml.safe_load((ROOT / "config/examples/hsb_binary.yaml").read_text())
    plan["data"] = {"source": "file", "file": "hsb_binary_mis.csv"}
    plan["missing"] = {
        "method": "multiple_imputation",
        "m": 3,
        "iterations": 5,
        "delta": {"grid": [-2.0, -1.0, 1.0, 2.0], "term": "cses"},
    }
    (tmp_path / "config/analysis.yaml").write_text(yaml.safe_dump(plan))
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "reports/missing_delta.json"]
    res = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    d = json.loads((tmp_path / "reports/missing_delta.json").read_text())
    assert d["family"] == "binomial" and d["units"].startswith("log odds ratio")
    assert d["sd_observed"] is None and d["m"] == 3
    rows = pd.DataFrame(d["rows"]).sort_values("delta")
    assert list(rows["delta"]) == [-2.0, -1.0, 0.0, 1.0, 2.0]
    changed = {c["delta"]: c["share"] for c in d["imputed_changed"]}
    assert (
        changed[0.0] == 0.0
        and changed[-2.0] > changed[-1.0] > 0
        and changed[2.0] > changed[1.0] > 0
    )
    for i in (1, 2, 3):  # the imputed outcome stays binary
        imp = pd.read_parquet(tmp_path / f"data/interim/imputed/imp{i}.parquet")
        assert set(imp["proficient"].unique()) <= {0.0, 1.0}
    assert (tmp_path / "reports/figures/tipping_point.png").stat().st_size > 5_000
    from mlmpipe.missing.report_section import missing_section

    missing = json.loads((tmp_path / "reports/missing.json").read_text())
    items = missing_section(missing, [str(tmp_path / "reports/missing_delta.json")])
    text = " ".join(c for kind, c in items if kind == "md")
    assert "a log odds ratio" in text and "observed SD" not in text
