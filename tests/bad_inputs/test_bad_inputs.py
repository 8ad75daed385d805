"""Bad inputs as a new user makes them (issue 21): each case breaks a tiny three-level project
(3 schools x 3 classes x 5 students, written here) in one way, runs ``mlmpipe run`` and asserts
the exit status, the one-line ``mlmpipe:`` message naming the culprit on the terminal, no Python
traceback, and the raw data file unchanged. Most cases stop at ``validate`` (the target
``reports/checks.json``); the unresolved-ladder cases fit one model. README, "Bad input", lists
them. Each case is one ``mlmpipe run`` (about 5 s idle, 12 s on 2 busy cores): ten stay in the
default run (about 2 minutes on 2 busy cores), the others, and the two ladder cases that fit a
model, are marked slow and run by .ci/run (``pytest -m slow tests/bad_inputs``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlmpipe.cli import workflow_root

ROOT = Path(__file__).resolve().parents[2]
CHECKS = "reports/checks.json"

PLAN = {
    "project": "bad-inputs",
    "seed": 1,
    "data": {"source": "file", "file": "d.csv"},
    "outcome": {"name": "like"},
    "levels": [
        {
            "name": "student",
            "predictors": {
                "x": {"type": "continuous", "centering": "group"},
                "sex": {"type": "binary"},
            },
        },
        {"name": "class", "id": "cls", "predictors": {}},
        {
            "name": "school",
            "id": "school",
            "predictors": {"w": {"type": "continuous", "centering": "grand"}},
        },
    ],
    "models": [{"name": "m0"}, {"name": "m1", "add_fixed": ["cx", "sex"]}],
    "estimation": {"estimators": ["reml"]},
}


def data(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(1, 4):
        w = round(float(rng.normal()), 3)
        for c in range(1, 4):
            u = rng.normal(scale=0.5)
            for i in range(5):
                x = round(float(rng.normal()), 3)
                like = round(5 + 0.4 * x + 0.3 * w + u + float(rng.normal()), 3)
                rows.append(
                    {
                        "school": s,
                        "cls": f"{s}-{c}",
                        "sex": "f" if (i + c) % 2 else "m",
                        "x": x,
                        "w": w,
                        "like": like,
                    }
                )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """The workflow files of a project made by ``mlmpipe init`` (copied into every case)."""
    d = tmp_path_factory.mktemp("template") / "proj"
    res = subprocess.run(
        [sys.executable, "-m", "mlmpipe.cli", "init", str(d)],
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    assert workflow_root() is not None and (d / "Snakefile").exists()
    return d


def _env() -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("MLMPIPE_RELAY", None)
    return env


class Case:
    def __init__(self, template: Path, where: Path, plan: dict | str, raw: bytes, name: str):
        self.dir = where / "proj"
        shutil.copytree(template, self.dir)
        (self.dir / "data" / "raw").mkdir(parents=True, exist_ok=True)
        self.raw = self.dir / "data" / "raw" / name
        self.raw.write_bytes(raw)
        text = plan if isinstance(plan, str) else yaml.safe_dump(plan, sort_keys=False)
        (self.dir / "config" / "analysis.yaml").write_text(text, encoding="utf-8")
        self.sha = hashlib.sha256(raw).hexdigest()

    def run(self, *targets: str, command: tuple[str, ...] | None = None):
        cmd = command or (sys.executable, "-m", "mlmpipe.cli", "run", "--cores", "1", "--")
        res = subprocess.run(
            [*cmd, *(targets or (CHECKS,))],
            cwd=self.dir,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=600,
        )
        self.out = res.stdout + res.stderr
        self.rc = res.returncode
        assert hashlib.sha256(self.raw.read_bytes()).hexdigest() == self.sha, "raw file changed"
        assert "Traceback (most recent call last)" not in self.out, self.out[-3000:]
        return self

    def line(self, *parts: str) -> str:
        """The one ``mlmpipe:`` line holding every part (fails, showing the output, if none)."""
        hits = [
            ln
            for ln in self.out.splitlines()
            if ln.startswith("mlmpipe:") and all(p in ln for p in parts)
        ]
        assert hits, f"no 'mlmpipe:' line with {parts} in:\n{self.out[-4000:]}"
        print(hits[-1])  # shown by pytest -rP: the line a user reads
        return hits[-1]


def csv_bytes(df: pd.DataFrame, encoding: str = "utf-8") -> bytes:
    return df.to_csv(index=False).encode(encoding)


def plan(**edits) -> dict:
    p = yaml.safe_load(yaml.safe_dump(PLAN))
    for key, value in edits.items():
        section, _, sub = key.partition("__")
        if sub:
            p.setdefault(section, {})[sub] = value
        else:
            p[section] = value
    return p


@pytest.fixture
def case(template, tmp_path):
    def make(plan_: dict | str = PLAN, raw: bytes | None = None, name: str = "d.csv") -> Case:
        if isinstance(plan_, dict) and name != "d.csv":
            plan_ = {**plan_, "data": {**plan_["data"], "file": name}}
        return Case(template, tmp_path, plan_, csv_bytes(data()) if raw is None else raw, name)

    return make


# ------------------------------------------------------------------------------- the data file


def test_a_zero_byte_csv(case):
    c = case(raw=b"").run()
    assert c.rc != 0
    c.line("validate: data.file: 'd.csv' is empty (0 bytes)", "(log: logs/validate.log)")


@pytest.mark.slow  # budget of the default run (see the module docstring); in .ci/run
def test_a_zero_byte_sav(case):
    c = case(raw=b"", name="d.sav").run()
    assert c.rc != 0
    c.line("validate: data.file: 'd.sav' is empty (0 bytes)")


@pytest.mark.slow  # budget of the default run (see the module docstring); in .ci/run
def test_a_file_that_is_not_a_sav(case):
    c = case(raw=b"this is not an SPSS file", name="d.sav").run()
    assert c.rc != 0
    c.line("validate: data.file: 'd.sav' cannot be read as SPSS .sav")


@pytest.mark.slow  # budget of the default run (see the module docstring); in .ci/run
def test_a_header_only_file(case):
    c = case(raw=b"school,cls,sex,x,w,like\n").run()
    assert c.rc != 0
    c.line("validate: data.file: the data file has no rows")


def test_a_latin1_file_is_read_with_a_warning(case):
    df = data()
    df["town"] = np.where(df["school"] == 1, "München", "Köln")
    c = case(raw=csv_bytes(df, "latin-1")).run()
    assert c.rc == 0, c.out[-3000:]
    c.line("warning: validate: data.encoding: 'd.csv' is not UTF-8", "read as cp1252")


@pytest.mark.slow  # budget of the default run (see the module docstring); in .ci/run
def test_a_latin1_file_declared_utf8(case):
    df = data()
    df["town"] = np.where(df["school"] == 1, "München", "Köln")
    c = case(plan(data={**PLAN["data"], "encoding": "utf-8"}), csv_bytes(df, "latin-1")).run()
    assert c.rc != 0
    c.line("validate: data.encoding: 'data/raw/d.csv' is not utf-8 text")


def test_duplicate_column_names(case):
    text = data().to_csv(index=False).replace("like", "like,like", 1)
    lines = text.splitlines()
    lines = [lines[0]] + [ln + "," + ln.rsplit(",", 1)[1] for ln in lines[1:]]
    c = case(raw=("\n".join(lines) + "\n").encode()).run()
    assert c.rc != 0
    c.line("validate: data.file: column name 'like' occurs more than once in 'd.csv'")


# ------------------------------------------------------------------------------- the variables


def test_a_constant_outcome(case):
    df = data().assign(like=3.0)
    c = case(raw=csv_bytes(df)).run()
    assert c.rc != 0
    c.line("validate: outcome.name: outcome 'like' is constant (value 3.0 in all 45")


@pytest.mark.slow  # budget of the default run (see the module docstring); in .ci/run
def test_an_all_missing_predictor(case):
    df = data().assign(sex="")
    c = case(raw=csv_bytes(df)).run()
    assert c.rc != 0
    line = c.line("validate: levels[0].predictors.sex: 'sex' is missing in all 45 rows")
    assert "constant" not in line


def test_a_binary_predictor_with_three_values(case):
    df = data()
    df.loc[[0, 7], "sex"] = "d"
    c = case(raw=csv_bytes(df)).run()
    assert c.rc != 0
    c.line(
        "validate: levels[0].predictors.sex.type: 'sex' is declared binary but has 3 distinct "
        "values (d, f, m)",
        "(log: logs/validate.log)",
    )


@pytest.mark.slow  # budget of the default run (see the module docstring); in .ci/run
def test_more_clusters_than_observations(case):
    df = data()
    df["cls"] = [f"c{i}" for i in range(len(df))]  # a row ID taken for the class ID
    c = case(raw=csv_bytes(df)).run()
    assert c.rc != 0
    c.line("validate: levels[1].id: level 'class' has 45 clusters of 'cls' for 45 observed")


def test_an_undeclared_missing_code_warns(case):
    df = data()
    df.loc[[2, 11, 30, 40], "like"] = -99
    c = case(raw=csv_bytes(df)).run()
    assert c.rc == 0, c.out[-3000:]
    c.line("warning: validate: outcome.name: 'like' holds 4 value(s) -99", "data.missing_codes")


@pytest.mark.slow  # budget of the default run (see the module docstring); in .ci/run
def test_declared_missing_codes_become_missing(case):
    df = data()
    df.loc[[2, 11, 30, 40], "like"] = -99
    df.loc[[5], "x"] = 999
    c = case(plan(data={**PLAN["data"], "missing_codes": [-99, 999]}), csv_bytes(df)).run()
    assert c.rc == 0, c.out[-3000:]
    assert "data.missing_codes" not in c.out  # nothing left to warn about
    clean = pd.read_parquet(c.dir / "data" / "interim" / "clean.parquet")
    assert clean["like"].isna().sum() == 4 and clean["x"].isna().sum() == 1
    assert (clean["like"].dropna() > 0).all()
    import json

    checks = json.loads((c.dir / CHECKS).read_text())["checks"]
    rec = next(r for r in checks if r["name"] == "missing_codes")
    assert rec["details"]["recoded"] == {"like": {"-99.0": 4}, "x": {"999.0": 1}}


@pytest.mark.slow  # budget of the default run (see the module docstring); in .ci/run
def test_missing_codes_naming_an_unknown_column(case):
    c = case(plan(data={**PLAN["data"], "missing_codes": {"likes": [-99]}})).run()
    assert c.rc != 0
    c.line("invalid plan: data.missing_codes: 'likes' is not an outcome or predictor")


# ------------------------------------------------------------------------------- the plan


def test_a_yaml_syntax_error_names_line_and_column(case):
    text = yaml.safe_dump(PLAN, sort_keys=False).replace("seed: 1", "seed: [1", 1)
    c = case(text).run()
    assert c.rc != 0
    c.line("invalid plan: config/analysis.yaml line", ", column", "not valid YAML")


def test_a_one_level_plan(case):
    c = case(plan(levels=PLAN["levels"][:1], models=[{"name": "m0"}])).run()
    assert c.rc != 0
    line = c.line("invalid plan: levels: a multilevel plan needs at least 2 levels")
    assert "[{" not in line  # not the raw list


def test_a_doubled_plus_in_a_formula(case):
    models = [{"name": "m0", "formula": "like ~ sex + + (1 | school)"}]
    c = case(plan(models=models)).run()
    assert c.rc != 0
    line = c.line("empty term between '+' and '+' (a doubled '+'")
    assert "parentheses" not in line


# ------------------------------------------------------------------------------- the ladder

SLOPE = [{"name": "m0"}, {"name": "m_slope", "add_random": {"school": ["cw"]}}]
SLOPE_FIT = "reports/fits/m_slope/reml/imp0.json"


@pytest.mark.slow  # fits a model (about 25 s on 2 busy cores); in .ci/run
def test_a_random_slope_of_a_school_variable_warns(case):
    c = case(plan(models=SLOPE, convergence={"rungs": ["uncorrelated"]})).run(SLOPE_FIT)
    assert c.rc == 0, c.out[-3000:]
    c.line("warning: fit: models.m_slope (reml): the convergence ladder leaves", "unresolved")
    c.line("convergence.on_unresolved: warn")


@pytest.mark.slow  # fits a model; in .ci/run
def test_on_unresolved_error_fails_the_run(case):
    conv = {"rungs": ["uncorrelated"], "on_unresolved": "error"}
    c = case(plan(models=SLOPE, convergence=conv)).run(SLOPE_FIT)
    assert c.rc != 0
    c.line(
        "fit: models.m_slope (reml): the convergence ladder leaves",
        "convergence.on_unresolved: error stops the run",
        "(log: logs/fit/m_slope/reml/fit.log)",
    )


# ------------------------------------------------------------------------------- snakemake itself


def test_snakemake_run_directly_prints_the_line_too(case):
    c = case(raw=csv_bytes(data().assign(like=3.0)))
    c.run(command=(sys.executable, "-m", "snakemake", "--cores", "1"))
    assert c.rc != 0
    c.line("validate: outcome.name: outcome 'like' is constant")
    assert sum(ln.startswith("mlmpipe: validate:") for ln in c.out.splitlines()) == 1
