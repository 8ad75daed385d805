"""The parametric bootstrap against lme4's ``bootMer`` (sleepstudy, random intercept and slope).

Reference: ``tests/fixtures/bootstrap/bootmer_sleepstudy.json``, written by
``tests/fixtures/bootstrap/make_bootmer.R``: ``bootMer(type = "parametric", use.u = FALSE)`` of the
REML fit ``Reaction ~ Days + (Days | Subject)``, B_R = 10,000 replicates (2 dropped for an undefined
correlation), with per parameter the 2.5/5/95/97.5% quantiles, the bootstrap SD and a kernel density
estimate f at each quantile. Ours: B = 800 replicates in 4 batches of 200 (as the pipeline's jobs),
pooled by ``percentile_intervals``.

Both are Monte-Carlo estimates of the same percentiles. The MC standard error of a sample
p-quantile from B draws is sqrt(p (1 - p) / B) / f(q_p) (asymptotic variance of a sample quantile;
e.g. Serfling 1980, 2.3.3), f from R's 10,000 replicates. Our limit and R's are independent, so
their difference has SE  se = sqrt(p (1 - p) (1/B + 1/B_R)) / f(q_p); the bar is 4 se (for the
intercept's 2.5% limit se = 0.58 with f = 0.0091, i.e. 4 se = 0.34 bootstrap SDs; for sigma's
se = 0.13). The bootstrap SDs are compared with the normal-theory SE of an SD,
sd sqrt(1/(2B) + 1/(2 B_R)), bar 5 SE (about 13% here). The measured differences, in units of se,
are printed with ``-s``: with this seed |z| <= 3.01 over the 24 limits (sigma's 2.5% limit; the
next largest 2.02), and a separate run with B = 4,000 (seed 7) gave |z| <= 2.84 (sigma's 2.5% limit
there: z = -0.02), so the largest here is Monte-Carlo noise, not a bias. ~12 s of CPU.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import pytest

import mlmpipe
from mlmpipe.inference.bootstrap import bootstrap_batch, percentile_intervals
from mlmpipe.record.capture import record_from_result
from tests.reference.datasets import load

pytestmark = pytest.mark.reference

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "bootstrap" / "bootmer_sleepstudy.json"
BATCHES, PER_BATCH, SEED = 4, 200, 2026
Z_BAR, Z_BAR_SD = 4.0, 5.0


@pytest.fixture(scope="module")
def r():
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def ours(r):
    d = load("lme4::sleepstudy")
    rec = record_from_result(mlmpipe.fit(r["formula"], d, reml=r["REML"]), model="sleep")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batches = [bootstrap_batch(rec, d, PER_BATCH, seed=SEED, batch=k) for k in range(BATCHES)]
    return {
        level: {
            row["parameter"]: row for row in percentile_intervals(batches, rec, level)["intervals"]
        }
        for level in (0.95, 0.90)
    }


def test_same_parameters_and_estimates(r, ours):
    rows = ours[0.95]
    assert set(rows) == {p["parameter"] for p in r["parameters"]}
    assert all(rows[k]["replicates"] >= BATCHES * PER_BATCH - 2 for k in rows)


def test_percentile_limits_agree_with_bootmer_within_monte_carlo_error(r, ours):
    B_R = r["B"]
    failures, report = [], []
    for par in r["parameters"]:
        name = par["parameter"]
        for p, q, f in zip(r["probs"], par["quantiles"], par["density_at_quantiles"], strict=True):
            level = 0.95 if p in (0.025, 0.975) else 0.90
            row = ours[level][name]
            got = row["low"] if p < 0.5 else row["high"]
            B = row["replicates"]
            se = math.sqrt(p * (1 - p) * (1 / B + 1 / B_R)) / f
            z = (got - q) / se
            report.append(f"{name:30s} p={p:<6} ours {got:10.4f} R {q:10.4f} z {z:+.2f}")
            if abs(z) > Z_BAR:
                failures.append(report[-1])
    print("\n" + "\n".join(report))
    assert not failures, "\n".join(failures)


def test_bootstrap_sds_agree_with_bootmer(r, ours):
    for par in r["parameters"]:
        row = ours[0.95][par["parameter"]]
        sd = par["bootstrap_sd"]
        se = sd * math.sqrt(1 / (2 * row["replicates"]) + 1 / (2 * r["B"]))
        assert abs(row["bootstrap_se"] - sd) <= Z_BAR_SD * se, (par["parameter"], row, sd)
