"""Residual structures: our engine against nlme ``lme`` on mlmRev's egsingle, in one run.

Cases (REML): AR(1) within children, ``math ~ year + (1|childid)`` and the three-level
``+ (1|schoolid)``; AR(1) + varIdent by occasion. Ours: ``mlmpipe.fit(correlation=, variance=)``
with its defaults (Satterthwaite df and the Hessian-based intervals of the residual parameters);
nlme: ``lme()`` with its defaults (which also computes ``apVar``), timed by ``system.time`` inside
one ``Rscript`` process. Best of ``--repeat`` after a warm-up, both sides. Prints the ratios.

    PYTHONPATH=src python benchmarks/bench_residual.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.reference.datasets

import mlmpipe  # noqa: E402
from tests.reference.datasets import load  # noqa: E402

CASES = [
    (
        "AR(1), 2-level",
        "math ~ year + (1|childid)",
        "ar1(~ occ | childid)",
        None,
        "lme(math ~ year, random = ~ 1 | childid, data = eg, "
        "correlation = corAR1(form = ~ occ | childid))",
    ),
    (
        "AR(1), 3-level",
        "math ~ year + (1|schoolid) + (1|childid)",
        "ar1(~ occ | childid)",
        None,
        "lme(math ~ year, random = ~ 1 | schoolid/childid, data = eg, "
        "correlation = corAR1(form = ~ occ | schoolid/childid))",
    ),
    (
        "AR(1) + varIdent, 2-level",
        "math ~ year + (1|childid)",
        "ar1(~ occ | childid)",
        "ident(~ 1 | occf)",
        "lme(math ~ year, random = ~ 1 | childid, data = eg, "
        "correlation = corAR1(form = ~ occ | childid), weights = varIdent(form = ~ 1 | occf))",
    ),
]

R_TEMPLATE = """
suppressPackageStartupMessages({{library(nlme); library(mlmRev); library(jsonlite)}})
eg <- egsingle; eg$occ <- as.integer(round(eg$year + 2.5)); eg$occf <- factor(eg$occ)
calls <- fromJSON('{calls}')
out <- lapply(calls, function(cl) {{
  m <- eval(str2lang(cl))  # warm-up
  ts <- sapply(seq_len({repeat}), function(i) system.time(eval(str2lang(cl)))[["elapsed"]])
  list(seconds = min(ts), loglik = as.numeric(logLik(m)))
}})
cat(toJSON(list(results = out, version = as.character(packageVersion("nlme"))),
           auto_unbox = TRUE, digits = NA))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", help="write the measured rows as JSON")
    ap.add_argument("--markdown", help="write the table as Markdown")
    args = ap.parse_args()
    eg = load("mlmRev::egsingle")
    eg["occ"] = np.round(eg["year"] + 2.5).astype(int)
    eg["occf"] = eg["occ"].astype(str)
    ours = []
    for _, formula, corr, var, _ in CASES:
        res = mlmpipe.fit(formula, eg, correlation=corr, variance=var)  # warm-up
        ts = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            res = mlmpipe.fit(formula, eg, correlation=corr, variance=var)
            ts.append(time.perf_counter() - t)
        ours.append((min(ts), res.loglik, res.optsum.feval))
    script = R_TEMPLATE.format(calls=json.dumps([c[4] for c in CASES]), repeat=args.repeat)
    proc = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, check=True)
    r = json.loads(proc.stdout)
    lines = [
        f"nlme {r['version']}; best of {args.repeat} after a warm-up; REML; n = {len(eg)}",
        "",
        "| case | ours s | nlme s | ours/nlme | logLik ours − nlme | ours evaluations |",
        "|---|---|---|---|---|---|",
    ]
    ratios, rows = [], []
    for (name, *_), (t, ll, fev), rr in zip(CASES, ours, r["results"], strict=True):
        ratios.append(t / rr["seconds"])
        rows.append({"case": name, "ours": t, "nlme": rr["seconds"], "dloglik": ll - rr["loglik"]})
        lines.append(
            f"| {name} | {t:.3f} | {rr['seconds']:.3f} | {ratios[-1]:.2f} | "
            f"{ll - rr['loglik']:+.1e} | {fev} |"
        )
    lines += ["", f"- geometric mean ours/nlme: {float(np.exp(np.mean(np.log(ratios)))):.2f}"]
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    if args.markdown:
        Path(args.markdown).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
