"""Time mlmpipe's cumulative-link mixed model against R's ordinal::clmm on the same data (issue 4).

Usage::

    python benchmarks/bench_ordinal.py [--no-r] [--repeat N] [--cases a,b] [--json OUT]

Cases: ordinal's wine (72 ratings, 9 judges; ``?clmm``'s model), mlmRev Chem97's students of LEAs
1-20 (2,100 students, 208 schools) with ``score ~ gcsecnt + (1 | school)`` by Laplace and by
nAGQ = 7, and -- only with ``--cases chem97_full`` -- all 31,022 students (clmm needs minutes).
Chem97's score is an ordered factor, as in the parity fixtures. clmm runs in ``Rscript`` with its
default ``clmm.control()`` (what a user gets) and is timed by ``system.time()`` inside R after a
warm-up fit; ours runs in this process after its imports. Each row prints wall and CPU times, the
ratio ours / clmm, the largest relative difference of the regression coefficients and thresholds,
and the logLik difference, so a fast wrong answer cannot pass unnoticed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

WINE = "rating ~ temp + contact + (1 | judge)"
CHEM = "score ~ gcsecnt + (1 | school)"
# case -> (fixture case whose data it uses, formula, nAGQ, R expression for the data)
CASES = {
    "wine": ("wine_clmm_logit", WINE, 1, "ordinal::wine"),
    "chem97_lea20": ("chem97_lea20_school_logit", CHEM, 1, "chem20"),
    "chem97_lea20_agq7": ("chem97_lea20_school_logit_agq7", CHEM, 7, "chem20"),
    "chem97_full": ("chem97_school_logit", CHEM, 1, "chem"),
}

R_TEMPLATE = """
suppressPackageStartupMessages({{library(ordinal); library(mlmRev); library(jsonlite)}})
chem <- Chem97
chem$score <- factor(chem$score, ordered = TRUE)
chem20 <- droplevels(chem[as.integer(as.character(chem$lea)) <= 20, ])
dat <- {data}
invisible(clmm(rating ~ temp + (1 | judge), data = ordinal::wine))  # warm-up
best <- Inf
best_cpu <- Inf
for (i in seq_len({repeat})) {{
  tt <- system.time(m <- clmm({formula}, data = dat, nAGQ = {nagq}))
  best <- min(best, tt[["elapsed"]])
  best_cpu <- min(best_cpu, tt[["user.self"]] + tt[["sys.self"]])
}}
cat(toJSON(list(seconds = best, cpu = best_cpu, beta = unname(m$beta), alpha = unname(m$alpha),
                loglik = as.numeric(logLik(m))), digits = NA, auto_unbox = TRUE))
"""


def time_ours(case_id: str, repeat: int):
    import mlmpipe
    from tests.reference.test_ordinal_parity import CASES as FIX
    from tests.reference.test_ordinal_parity import formula, load

    case = FIX[case_id]
    df = load(case)
    best, best_cpu, res = np.inf, np.inf, None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = mlmpipe.fit(formula(case), df, family="ordinal", nagq=case["nAGQ"])
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return best, best_cpu, res


def time_clmm(data: str, formula: str, nagq: int, repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bench.R"
        script.write_text(R_TEMPLATE.format(data=data, repeat=repeat, formula=formula, nagq=nagq))
        out = subprocess.run(
            ["Rscript", str(script)], capture_output=True, text=True, check=True
        ).stdout
    return json.loads(out[out.index("{") :])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default="wine,chem97_lea20,chem97_lea20_agq7")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--no-r", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args()
    rows = []
    print(f"load {_load()}")
    print(
        f"{'case':<18} {'n':>6} {'ours s':>7} {'clmm s':>7} {'ratio':>6} {'ours cpu':>8} "
        f"{'clmm cpu':>8} {'cpu ratio':>9} {'max rel dpar':>12} {'dlogLik':>9}"
    )
    for key in args.cases.split(","):
        case_id, formula, nagq, data = CASES[key]
        t, cpu, res = time_ours(case_id, args.repeat)
        row = {"case": key, "n": res.nobs, "ours": t, "ours_cpu": cpu, "load": _load()}
        if not args.no_r:
            r = time_clmm(data, formula, nagq, args.repeat)
            ours = np.r_[res.beta, [th["estimate"] for th in res.thresholds()]]
            ref = np.r_[r["beta"], r["alpha"]]
            row.update(
                clmm=r["seconds"],
                ratio=t / r["seconds"],
                clmm_cpu=r["cpu"],
                cpu_ratio=cpu / max(r["cpu"], 1e-3),
                max_rel_dpar=float(np.max(np.abs(ours - ref) / np.abs(ref))),
                dloglik=res.loglik - r["loglik"],
            )
        rows.append(row)
        nan = float("nan")
        print(
            f"{key:<18} {row['n']:>6} {t:>7.2f} {row.get('clmm', nan):>7.2f} "
            f"{row.get('ratio', nan):>6.2f} {cpu:>8.2f} {row.get('clmm_cpu', nan):>8.2f} "
            f"{row.get('cpu_ratio', nan):>9.2f} {row.get('max_rel_dpar', nan):>12.2e} "
            f"{row.get('dloglik', nan):>9.2e}",
            flush=True,
        )
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1))


def _load() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


if __name__ == "__main__":
    main()
