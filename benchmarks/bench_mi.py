"""Benchmark of multilevel multiple imputation (issue 5, item 7): 20 imputations of an HSB-sized
data set (7,000 rows in 160 clusters, 10 variables, 3 of them with 15 % missing values).

Variables: cluster id; level 1: y, x1, x2, x3 (continuous), x4 (binary); level 2: w1, w2
(continuous), w3 (binary). Missing (MAR on observed covariates, 15 % each): y, x1 (continuous,
2l.norm) and x4 (binary, 2l.norm + predictive mean matching). Default plan settings: m = 20,
20 iterations per chain, one process (the sampler itself is single-threaded).

    python benchmarks/bench_mi.py [--m 20] [--iterations 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mlmpipe.missing.mi_chained import ImputationSpec, impute_multilevel


def make_data(seed: int = 1, n: int = 7000, J: int = 160) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.sort(rng.integers(0, J, n))
    w1, w2 = rng.normal(size=J), rng.normal(size=J)
    w3 = (rng.random(J) < 0.4).astype(float)
    x1 = rng.normal(size=J)[g] * 0.5 + rng.normal(size=n)
    x2 = 0.3 * x1 + rng.normal(size=n)
    x3 = rng.normal(size=n)
    x4 = (rng.random(n) < 1 / (1 + np.exp(-0.5 * x2))).astype(float)
    y = 12 + 2 * x1 + x2 - 0.5 * x3 + x4 + 1.5 * w1[g] + w3[g] + rng.normal(0, 2, J)[g]
    y = y + rng.normal(0, 6, n)
    df = pd.DataFrame(
        {
            "cl": g,
            "y": y,
            "x1": x1,
            "x2": x2,
            "x3": x3,
            "x4": x4,
            "w1": w1[g],
            "w2": w2[g],
            "w3": w3[g],
        }
    )
    for i, col in enumerate(["y", "x1", "x4"]):  # MAR: 15 % of rows, more often at high x2/x3/w2
        driver = [df.x2, df.x3, df.w2][i].to_numpy()
        w = np.exp(0.8 * (driver - driver.mean()))
        rows = rng.choice(n, size=int(0.15 * n), replace=False, p=w / w.sum())
        df.loc[rows, col] = np.nan
    df["x4"] = pd.Categorical.from_codes(df["x4"].fillna(-1).astype(int), ["no", "yes"])
    df["w3"] = pd.Categorical.from_codes(df["w3"].astype(int), ["no", "yes"])
    return df


def spec(m: int, iterations: int) -> ImputationSpec:
    c = ("continuous", None)
    return ImputationSpec(
        outcome="y",
        cluster="cl",
        level1={"y": c, "x1": c, "x2": c, "x3": c, "x4": ("binary", ["no", "yes"])},
        level2={"w1": c, "w2": c, "w3": ("binary", ["no", "yes"])},
        ids=("cl",),
        m=m,
        iterations=iterations,
        seed=20240101,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--m", type=int, default=20)
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", help="write the result as JSON")
    args = ap.parse_args()
    df = make_data()
    miss = df.isna().mean().round(3)
    print(f"rows {len(df)}, clusters {df.cl.nunique()}, missing share: {miss[miss > 0].to_dict()}")
    times = []
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        sets, info = impute_multilevel(df, spec(args.m, args.iterations))
        times.append((time.perf_counter() - t0, time.process_time() - c0))
        assert len(sets) == args.m and not sets[-1][["y", "x1", "x4"]].isna().any().any()
    wall, cpu = min(t[0] for t in times), min(t[1] for t in times)
    print(
        f"m = {args.m}, iterations = {args.iterations}: best wall {wall:.2f} s, CPU {cpu:.2f} s "
        f"(runs: {', '.join(f'{t[0]:.2f}' for t in times)}); load average {os.getloadavg()[0]:.1f}; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "rows": len(df),
                    "clusters": int(df.cl.nunique()),
                    "m": args.m,
                    "iterations": args.iterations,
                    "wall": wall,
                    "cpu": cpu,
                    "runs": [t[0] for t in times],
                }
            )
        )


if __name__ == "__main__":
    main()
