"""The binary example plan's multiverse through Snakemake: GLMM specifications, the family's GLM
and GEE, choices without meaning recorded as not applicable (slow, ~2-4 min)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SENSITIVITY = {
    "enabled": True,
    "focal": ["cses"],
    "dimensions": {
        "centering": {"ses": ["group", "grand"]},
        "random": ["intercept"],
        "estimator": ["ml", "reml"],
        "method": ["mlm", "ols_cluster", "gee", "within"],
    },
}


@pytest.mark.slow
@pytest.mark.e2e
def test_binary_example_multiverse(tmp_path):
    shutil.copy2(ROOT / "Snakefile", tmp_path / "Snakefile")
    for name in ("workflow", "config"):
        shutil.copytree(ROOT / name, tmp_path / name)
    plan = yaml.safe_load((ROOT / "config/examples/hsb_binary.yaml").read_text())
    plan["sensitivity"] = SENSITIVITY
    (tmp_path / "config/analysis.yaml").write_text(yaml.safe_dump(plan))
    (tmp_path / "data" / "raw").mkdir(parents=True)
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "reports/sensitivity/summary.json"]
    res = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    s = json.loads((tmp_path / "reports/sensitivity/summary.json").read_text())
    assert s["scale"] == "log-odds (logit scale)"
    r = s["focal"]["cses"]
    # 2 centerings x (mlm ml, mlm reml, ols_cluster, gee, within) = 10; reml and within: n/a
    assert (r["specifications"], r["estimated"], r["failed"], r["not_applicable"]) == (10, 6, 0, 4)
    t = pd.read_csv(tmp_path / "reports/tables/sensitivity.csv").set_index("id")
    na = t[t["status"] == "not_applicable"]
    assert set(na["method"]) == {"mlm", "within"} and set(
        na.loc[na["method"] == "mlm", "estimator"]
    ) == {"reml"}
    assert na["reason"].str.startswith("not applicable: ").all()
    ok = t[t["status"] == "ok"]
    glmm = ok[(ok["method"] == "mlm") & (ok["centering.ses"] == "group")]["estimate"].iloc[0]
    gee = ok[(ok["method"] == "gee") & (ok["centering.ses"] == "group")]["estimate"].iloc[0]
    # a logit-scale SES slope (a linear probability model would give about 0.1), and the
    # population-averaged GEE slope attenuated relative to the cluster-specific GLMM slope
    assert glmm > 0.3 and 0 < gee < glmm
    spec = json.loads((tmp_path / f"reports/sensitivity/specs/{r['primary']}.json").read_text())
    assert spec["formula"].endswith("+ (1 | school)") and all(
        x["df"] is None for x in spec["fixed"]
    )
    assert (tmp_path / "reports/figures/specification_curve.png").stat().st_size > 10_000
