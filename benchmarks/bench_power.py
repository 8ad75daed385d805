"""Time simulation power (issue 17, item 4): simulate-and-refit cycles of a two-level random-
intercept model with a level-2 treatment (40 schools x 20 students), Satterthwaite t test of the
treatment, ours against lme4 + lmerTest in one run.

Usage::

    python benchmarks/bench_power.py [--reps 1000] [--r-reps 200] [--no-r]

Ours: :func:`mlmpipe.power.simulate.run_batch` (one vectorised draw of all responses, the design
built once, one REML fit + Satterthwaite df per replicate). The peer, timed inside R after an lmer
REML fit of one simulated data set (start-up excluded): ``simulate(m, nsim, newparams = truth)``, then per replicate
``refit(m, y)`` and lmerTest's Satterthwaite ``summary`` coefficient table (``as_lmerModLmerTest``),
as simr does. Both reject at 0.05; the rejection rates are printed beside the times (same truth,
different random numbers, so they agree within Monte-Carlo error).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mlmpipe.power import analytic
from mlmpipe.power.analytic import DesignParams
from mlmpipe.power.simulate import draw, layout, run_batch, summarise

R_SCRIPT = """
suppressPackageStartupMessages({library(lme4); library(lmerTest); library(jsonlite)})
args <- commandArgs(TRUE)
dat <- read.csv(args[1]); nsim <- as.integer(args[2])
truth <- list(beta = c(0, as.numeric(args[3])), theta = as.numeric(args[4]),
              sigma = as.numeric(args[5]))
dat$l2 <- factor(dat$l2)
m <- lme4::lmer(y ~ treat + (1 | l2), data = dat, REML = TRUE)
t <- system.time({
  ys <- simulate(m, nsim = nsim, seed = 1, newparams = truth)
  p <- vapply(seq_len(nsim), function(i) {
    f <- as_lmerModLmerTest(refit(m, ys[[i]]))
    summary(f)$coefficients["treat", "Pr(>|t|)"]
  }, numeric(1))
})[["elapsed"]]
cat(toJSON(list(seconds = t, reject = mean(p < 0.05)), auto_unbox = TRUE, digits = NA))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--r-reps", type=int, default=200, help="lme4 replicates (timed per replicate)")
    ap.add_argument("--no-r", action="store_true")
    ap.add_argument("--json", help="write the result as JSON")
    a = ap.parse_args()
    d = DesignParams("cra2", rho2=0.2)
    es, n, J = 0.4, 20, 40
    t0 = time.perf_counter()
    b = run_batch(d, es, n, J, 1, "satterthwaite", a.reps, 0.05, seed=1)
    ours = time.perf_counter() - t0
    s = summarise([b])
    print(f"machine load: {Path('/proc/loadavg').read_text().split()[:3]}")
    print(
        f"ours: {a.reps} replicates in {ours:.2f} s ({1000 * ours / a.reps:.2f} ms/replicate), "
        f"power {s['power']:.3f} (MC SE {s['mc_se']:.3f}); closed form "
        f"{analytic.power(d, es, n, J):.3f}; failed {b['failed']}, singular {b['singular']}"
    )
    out = {
        "reps": a.reps,
        "ours_s": ours,
        "ours_ms_per_rep": 1000 * ours / a.reps,
        "power": s["power"],
        "mc_se": s["mc_se"],
        "closed_form": analytic.power(d, es, n, J),
    }
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))
    if a.no_r or not shutil.which("Rscript"):
        return
    lay = layout(d, es, n, J)
    theta = lay.groups[0][1] / lay.sigma  # lme4's relative SD of the school intercepts
    frame = lay.frame.assign(y=draw(lay, 1, np.random.default_rng(0))[0])
    with tempfile.TemporaryDirectory() as tmp:
        csv, rs = Path(tmp) / "d.csv", Path(tmp) / "b.R"
        frame.to_csv(csv, index=False)
        rs.write_text(R_SCRIPT)
        res = subprocess.run(
            ["Rscript", str(rs), str(csv), str(a.r_reps), str(es), str(theta), str(lay.sigma)],
            capture_output=True,
            text=True,
        )
    if res.returncode != 0:
        sys.exit(res.stderr[-2000:])
    r = json.loads(res.stdout.strip().splitlines()[-1])
    per_r, per_ours = r["seconds"] / a.r_reps, ours / a.reps
    print(
        f"lme4 simulate + refit + lmerTest: {a.r_reps} replicates in {r['seconds']:.2f} s "
        f"({1000 * per_r:.2f} ms/replicate), rejection rate {r['reject']:.3f}"
    )
    print(f"ratio ours / lme4 per replicate: {per_ours / per_r:.3f}")
    out.update(
        r_reps=a.r_reps,
        lme4_ms_per_rep=1000 * per_r,
        ratio=per_ours / per_r,
        lme4_reject=r["reject"],
    )
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
