"""Time mlmpipe's survey-weighted pseudo-ML fits against lme4 on the replicated data (issue 16,
item 7).

Usage::

    python benchmarks/bench_survey.py [--no-r] [--repeat N] [--schools 150] [--json OUT]

A seeded PISA-sized sample (150 schools, ~33 students each, ~5,000 rows) with integer school and
student weights 1-3, so that the weighted fit has an exact unweighted equivalent: the data with
each student copied ``w_student`` times in its school and each school ``w_school`` times (as new
schools), ~4x the rows. Cases: the weighted LMM ``y ~ x + z + (1 | school)`` (closed form) and the
weighted logit GLMM ``ybin ~ x + z + (1 | school)`` by AGHQ with 7 nodes. Ours (best of N, wall
and CPU time; sandwich SEs included) is timed on the unexpanded data; lme4's ``lmer``
(``REML = FALSE``) / ``glmer(nAGQ = 7)`` with default controls on the replicated data in
``Rscript``, by ``system.time()``. Each row prints ours / lme4 and the logLik and largest fixed-effect
difference, so a fast wrong answer cannot pass unnoticed. WeMix (``mix()``) is not timed: Debian
has no ``r-cran-wemix`` package (``apt-get install r-cran-wemix``: unable to locate).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import mlmpipe  # noqa: E402

W = {"level1": "w_student", "school": "w_school"}
CASES = {
    "lmm": ("y ~ x + z + (1 | school)", "gaussian", 1),
    "glmm_logit_agq7": ("ybin ~ x + z + (1 | school)", "binomial", 7),
}


def sample(schools: int = 150, seed: int = 20261205) -> pd.DataFrame:
    """Seeded two-level data with integer weights (see module)."""
    rng = np.random.default_rng(seed)
    nj = rng.integers(20, 47, size=schools)
    school = np.repeat(np.arange(schools), nj)
    z = rng.normal(size=schools)[school]
    u = rng.normal(0, 0.6, size=schools)[school]
    x = rng.normal(size=school.size)
    eta = -0.2 + 0.5 * x + 0.3 * z + u
    return pd.DataFrame(
        {
            "school": school,
            "x": x,
            "z": z,
            "y": 1 + eta + rng.normal(size=school.size),
            "ybin": (rng.random(school.size) < 1 / (1 + np.exp(-eta))).astype(int),
            "w_student": rng.integers(1, 4, size=school.size),
            "w_school": rng.integers(1, 4, size=schools)[school],
        }
    )


def replicate(d: pd.DataFrame) -> pd.DataFrame:
    """Each student ``w_student`` times in its school, each school ``w_school`` times."""
    d = d.iloc[np.repeat(np.arange(len(d)), d.w_student.to_numpy())]
    k = d.w_school.to_numpy()
    out = d.iloc[np.repeat(np.arange(len(d)), k)].copy()
    copy = np.concatenate([np.arange(n) for n in k])
    out["cluster"] = out.school.astype(str) + "_" + copy.astype(str)
    return out.reset_index(drop=True)


def time_ours(d: pd.DataFrame, formula: str, family: str, nagq: int, repeat: int):
    best, best_cpu, res = np.inf, np.inf, None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        res = mlmpipe.fit(formula, d, family=family, nagq=nagq, sampling_weights=W)
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return best, best_cpu, res


R_SCRIPT = """suppressPackageStartupMessages(library(lme4))
d <- read.csv("{csv}")
f <- {formula}
best <- Inf; cpu <- Inf
for (i in seq_len({repeat})) {{
  tt <- system.time(m <- {call})
  best <- min(best, tt[["elapsed"]]); cpu <- min(cpu, tt[["user.self"]] + tt[["sys.self"]])
}}
cat(jsonlite::toJSON(list(wall = best, cpu = cpu, loglik = as.numeric(logLik(m)),
    fixef = unname(fixef(m))), digits = NA, auto_unbox = TRUE))
"""


def time_lme4(e: pd.DataFrame, formula: str, family: str, nagq: int, repeat: int) -> dict:
    f = formula.replace("| school", "| cluster")
    call = (
        "lmer(f, d, REML = FALSE)"
        if family == "gaussian"
        else f"glmer(f, d, family = {family}, nAGQ = {nagq})"
    )
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "rep.csv"
        e.to_csv(csv, index=False)
        script = Path(tmp) / "fit.R"
        script.write_text(R_SCRIPT.format(csv=csv, formula=f, repeat=repeat, call=call))
        out = subprocess.run(["Rscript", str(script)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-r", action="store_true", help="time ours only")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--schools", type=int, default=150)
    ap.add_argument("--json", help="write the rows to this file")
    args = ap.parse_args()
    d = sample(args.schools)
    e = replicate(d)
    print(f"weighted data: {len(d)} rows, {d.school.nunique()} schools; replicated: {len(e)} rows")
    rows = []
    for case, (formula, family, nagq) in CASES.items():
        wall, cpu, res = time_ours(d, formula, family, nagq, args.repeat)
        row = {"case": case, "ours_wall": wall, "ours_cpu": cpu, "nobs": len(d), "nrep": len(e)}
        if not args.no_r:
            r = time_lme4(e, formula, family, nagq, args.repeat)
            row |= {
                "lme4_wall": r["wall"],
                "lme4_cpu": r["cpu"],
                "ratio_wall": wall / r["wall"],
                "ratio_cpu": cpu / max(r["cpu"], 1e-3),
                "dloglik": res.pseudo_loglik - r["loglik"],
                "max_dfixef": float(np.max(np.abs(res.beta - np.asarray(r["fixef"])))),
            }
        rows.append(row)
        print(
            "  ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
            )
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
