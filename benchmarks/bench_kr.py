"""Time mlmpipe's Kenward-Roger adjustment against R's pbkrtest on the same data (issue 6, item 3).

Usage::

    python benchmarks/bench_kr.py [--cases hsb,scots,insteval] [--repeat N] [--no-r] [--markdown OUT]

For each case the model is fitted once by REML with our engine; then ``kr_adjustment`` (Phi_A, W
and the KR df of every coefficient) is timed, best of N. pbkrtest is timed in the same run through
``Rscript`` on a CSV of the same rows: ``system.time(vcovAdj(m))`` plus ``Lb_ddf`` for every
coefficient, after an lmer REML fit (R start-up, CSV reading and the fit are excluded). pbkrtest
forms n x n matrices (V^{-1} and G_r V^{-1} for every covariance parameter), so it is skipped where
they cannot fit in memory (InstEval: 73,421^2 doubles = 43 GB each). The KR df of the two
implementations are compared (each at its own optimum, so agreement is to the optimizer's
tolerance, ~1e-5).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_lmm import CASES as LMM_CASES  # noqa: E402
from bench_lmm import load_case  # noqa: E402

#: key -> (formula, run pbkrtest?)
CASES = {
    "hsb": ("mAch ~ meanses + sector * cses + (cses|school)", True),
    "scots": ("attain ~ verbal * sex + (1|primary) + (1|second)", True),
    "insteval": ("y ~ service + (1|s) + (1|d) + (1|dept:service)", False),
}

R_SCRIPT = """
suppressPackageStartupMessages({library(lme4); library(pbkrtest); library(jsonlite)})
args <- commandArgs(TRUE)
dat <- read.csv(args[1])
%(prep)s
m <- lmer(%(formula)s, data = dat, REML = TRUE)
p <- length(fixef(m))
t <- system.time({
  Va <- vcovAdj(m)
  ddf <- vapply(seq_len(p), function(i) {
    l <- matrix(0, 1, p); l[i] <- 1; Lb_ddf(l, vcov(m), Va)
  }, numeric(1))
})[["elapsed"]]
cat(toJSON(list(seconds = t, ddf = ddf, names = names(fixef(m))), digits = NA, auto_unbox = TRUE))
"""


def time_ours(key: str, repeat: int) -> dict:
    import mlmpipe
    from mlmpipe.engine.kenward_roger import kr_adjustment

    formula, _ = CASES[key]
    data = load_case(key)
    t0 = time.perf_counter()
    res = mlmpipe.fit(formula, data, df_method="none")
    fit_s = time.perf_counter() - t0
    best, adj = math.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        adj = kr_adjustment(res)
        ddf = adj.coef_df()
        best = min(best, time.perf_counter() - t0)
    return {
        "n": int(res.nobs),
        "q": int(sum(r.nranef for r in res.model.reterms)),
        "fit_s": fit_s,
        "kr_s": best,
        "ddf": [float(v) for v in ddf],
        "names": list(res.model.fixed_names),
        "data": data,
    }


def time_pbkrtest(key: str, data) -> dict | None:
    formula, feasible = CASES[key]
    if not feasible or shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "data.csv"
        data.to_csv(csv, index=False)
        script = Path(tmp) / "kr.R"
        script.write_text(R_SCRIPT % {"prep": LMM_CASES[key].r_prep, "formula": formula})
        out = subprocess.run(
            ["Rscript", str(script), str(csv)], capture_output=True, text=True, check=True
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-r", action="store_true")
    ap.add_argument("--markdown")
    ap.add_argument("--json", help="write the measured rows as JSON")
    args = ap.parse_args(argv)
    rows = []
    lines = [
        "| case | n | random effects | our fit (s) | our KR (s) | pbkrtest vcovAdj + Lb_ddf (s) "
        "| pbkrtest / ours | max rel. diff of KR df |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key in args.cases.split(","):
        ours = time_ours(key, 1 if key == "insteval" else args.repeat)
        r = None if args.no_r else time_pbkrtest(key, ours["data"])
        if r is None:
            r_s, ratio, diff = (
                "not run (n x n matrices: %.0f GB each)" % (ours["n"] ** 2 * 8 / 1e9),
                "",
                "",
            )
        else:
            assert r["names"] == ours["names"], (r["names"], ours["names"])
            d = np.max(np.abs(np.array(ours["ddf"]) / np.array(r["ddf"]) - 1))
            r_s, ratio, diff = (
                f"{r['seconds']:.2f}",
                f"{r['seconds'] / ours['kr_s']:.0f}x",
                f"{d:.1e}",
            )
        rows.append(
            {
                "case": key,
                "n": ours["n"],
                "fit_s": ours["fit_s"],
                "kr_s": ours["kr_s"],
                "pbkrtest_s": None if r is None else r["seconds"],
                "max_rel_ddf": None if r is None else float(d),
            }
        )
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1))
        lines.append(
            f"| {LMM_CASES[key].label} | {ours['n']:,} | {ours['q']:,} | {ours['fit_s']:.2f} "
            f"| {ours['kr_s']:.3f} | {r_s} | {ratio} | {diff} |"
        )
        print(lines[-1], flush=True)
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")


if __name__ == "__main__":
    main()
