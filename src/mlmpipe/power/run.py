"""The power analysis of a plan's ``power:`` section: closed-form tables, simulation batches, the
cell table with Monte-Carlo intervals, the power curve and the assumptions in words, written under
reports/power/."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from mlmpipe.errors import MlmpipeError
from mlmpipe.power import analytic
from mlmpipe.power.model_run import model_batch, model_table
from mlmpipe.power.section import PowerSection
from mlmpipe.power.simulate import run_batch, summarise

OUT_DIR = Path("reports/power")
FILES = (
    "analytic.csv",
    "mdes.csv",
    "min_clusters.csv",
    "simulation.csv",
    "simulation_model.csv",
    "power_curve.png",
    "assumptions.md",
    "power.json",
)


def _jk(sec: PowerSection, clusters: int, sub: int) -> tuple[int, int]:
    """(J, K) of the closed forms: J clusters (2 levels) or K units of ``sub`` clusters each."""
    return (sub, clusters) if sec.three_level else (clusters, 1)


def analytic_table(sec: PowerSection) -> pd.DataFrame:
    """Per grid cell: df, SE of the standardised effect, noncentral-t power at the plan's
    effect, and the MDES (PowerUp! multiplier and exact)."""
    rows = []
    for c, n, s in sec.cells():
        J, K = _jk(sec, c, s)
        d = sec.params
        rows.append(
            {
                "clusters": c,
                "cluster_size": n,
                "subclusters": s if sec.three_level else None,
                "df": analytic.degrees_of_freedom(d, n, J, K),
                "se": analytic.standard_error(d, n, J, K),
                "power": analytic.power(d, sec.effect, n, J, K, sec.alpha, sec.two_tailed),
                "mdes": analytic.mdes(d, n, J, K, sec.alpha, sec.target, sec.two_tailed),
                "mdes_exact": analytic.mdes(
                    d, n, J, K, sec.alpha, sec.target, sec.two_tailed, exact=True
                ),
            }
        )
    return pd.DataFrame(rows)


def min_clusters_table(sec: PowerSection) -> pd.DataFrame:
    """Per cluster size (and subclusters): the fewest top-level units reaching the target."""
    rows = []
    subs = sec.subclusters if sec.three_level else (None,)
    for s in subs:
        for n in sec.cluster_sizes:
            m = analytic.min_clusters(
                sec.params, sec.effect, n, s, sec.alpha, sec.target, sec.two_tailed
            )
            rows.append({"cluster_size": n, "subclusters": s, "min_clusters": m})
    return pd.DataFrame(rows)


def allocation(sec: PowerSection) -> dict | None:
    """Cost-optimal cluster size (Raudenbush 1997) and the clusters it needs, for cra2."""
    if sec.cost is None or sec.design != "cra2":
        return None
    d = sec.params
    n_opt = analytic.optimal_allocation(d.rho2, sec.cost[0], sec.cost[1], d.r2_1, d.r2_2)
    n_int = max(2, round(n_opt))
    J = analytic.min_clusters(d, sec.effect, n_int, None, sec.alpha, sec.target, sec.two_tailed)
    return {
        "optimal_cluster_size": n_opt,
        "cluster_size": n_int,
        "clusters": J,
        "cost": J * (sec.cost[0] + n_int * sec.cost[1]),
    }


def simulate_batch(sec: PowerSection, batch: int) -> dict:
    """Batch ``batch`` of every grid cell (its share of the replications); a cell that cannot be
    simulated records its reason and the others go on."""
    reps = sec.batch_sizes()[batch]
    cells = []
    for i, (c, n, s) in enumerate(sec.cells()):
        J, K = _jk(sec, c, s)
        try:
            r = run_batch(
                sec.params,
                sec.effect,
                n,
                J,
                K,
                sec.test,
                reps,
                sec.alpha,
                sec.seed,
                i,
                batch,
                mcar=sec.mcar,
                ladder=sec.ladder,
            )
        except MlmpipeError as exc:
            r = {"cell": i, "batch": batch, "reps": reps, "rejected": 0, "failed": reps,
                 "singular": 0, "ladder": 0, "unresolved": 0, "reasons": [str(exc)],
                 "seconds": 0.0}  # fmt: skip
        cells.append(r)
    return {
        "batch": batch,
        "seed": sec.seed,
        "cells": cells,
        "model_cells": model_batch(sec, batch),
    }


def simulation_table(sec: PowerSection, batches: list[dict], closed: pd.DataFrame):
    """Pooled cells: power, MC SE, Wilson 95% interval, failures, singular fits, the analytic
    power beside it and the difference in MC SEs."""
    rows = []
    for i, (c, n, s) in enumerate(sec.cells()):
        per = [b["cells"][i] for b in batches]
        summ = summarise(per)
        a = float(closed["power"].iloc[i])
        reasons = sorted({r for b in per for r in b["reasons"]})
        reps = sum(b["reps"] for b in per)
        rows.append(
            {
                "clusters": c,
                "cluster_size": n,
                "subclusters": s if sec.three_level else None,
                "replications": reps,
                **summ,
                "failed": sum(b["failed"] for b in per),
                "singular": sum(b["singular"] for b in per),
                "ladder": sum(b["ladder"] for b in per),
                "unresolved": sum(b["unresolved"] for b in per),
                "analytic_power": a,
                "z_vs_analytic": (summ["power"] - a) / summ["mc_se"]
                if summ["mc_se"] > 0
                else float("nan"),
                "seconds_per_replicate": sum(b["seconds"] for b in per) / max(reps, 1),
                "reasons": "; ".join(reasons),
            }
        )
    return pd.DataFrame(rows)


def _err(t: pd.DataFrame) -> list:
    """Error-bar half-widths of the Wilson intervals (clipped: at power 0 or 1 rounding can put
    the bound a hair past the estimate)."""
    return [(t["power"] - t["ci_low"]).clip(lower=0), (t["ci_high"] - t["power"]).clip(lower=0)]


def power_figure(
    sec: PowerSection, closed: pd.DataFrame, sim: pd.DataFrame | None, path, model=None
):
    """Power against the number of clusters, one line per cluster size (and subclusters), the
    simulated powers with 95% intervals as points, the target as a dashed line."""
    # deferred: matplotlib takes about a second to import and only this figure needs it
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    keys = ["cluster_size"] + (["subclusters"] if sec.three_level else [])
    for key, g in closed.groupby(keys, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        label = f"n = {key[0]}" + (f", J = {key[1]}" if sec.three_level else "")
        (line,) = ax.plot(g["clusters"], g["power"], marker="", label=label)
        if sim is not None:
            m = (sim["cluster_size"] == key[0]) & (
                sim["subclusters"] == key[1] if sec.three_level else True
            )
            s = sim[m]
            ax.errorbar(
                s["clusters"],
                s["power"],
                yerr=_err(s),
                fmt="o",
                ms=4,
                color=line.get_color(),
                capsize=2,
            )
    if model is not None and len(model):
        ax.errorbar(
            model["clusters"],
            model["power"],
            yerr=_err(model),
            fmt="s-",
            ms=4,
            color="black",
            capsize=2,
            label="final model (pilot)",
        )
    ax.axhline(sec.target, ls="--", color="grey", lw=1)
    ax.set_ylim(0, 1.02)
    unit = "level-3 units (K)" if sec.three_level else "clusters (J)"
    ax.set_xlabel(f"number of {unit}")
    ax.set_ylabel("power")
    ax.set_title(f"{sec.design}: effect {sec.effect:.3g}, alpha {sec.alpha:g} (lines: closed form)")
    ax.legend(title="cluster size", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def assumptions_text(sec: PowerSection, alloc: dict | None) -> str:
    """The assumptions of the power analysis in words (for the report and preregistration)."""
    d = sec.params
    names = {
        "cra2": "a two-level cluster-randomised trial (clusters randomised)",
        "cra3": "a three-level cluster-randomised trial (level-3 units randomised)",
        "bira2": "a two-level multisite trial (individuals randomised within clusters, random "
        "treatment effects)",
        "bira2f": "a two-level multisite trial with fixed blocks",
        "bira3": "a three-level multisite trial (individuals randomised within level-2 units, "
        "random treatment effects)",
        "bcra3": "a three-level blocked cluster-randomised trial (level-2 units randomised within "
        "level-3 blocks, random treatment effects)",
    }
    lines = [
        "# Power analysis: assumptions",
        "",
        f"- Design: {names[d.design]}; share treated {d.p:g}.",
        f"- Effect: standardised {sec.effect:.4g} (treatment coefficient over the total SD of "
        f"the outcome){f', term {sec.term!r} of the final model' if sec.term else ''}.",
        f"- Intraclass correlations: level 2 {d.rho2:g}"
        + (f", level 3 {d.rho3:g}" if sec.three_level else "")
        + f"; treatment-effect heterogeneity omega: level 2 {d.omega2:g}, level 3 {d.omega3:g}.",
        f"- Variance explained by covariates: level 1 {d.r2_1:g}, level 2 {d.r2_2:g}, level 3 "
        f"{d.r2_3:g} ({d.g} covariate(s) counted in the df).",
        f"- Test: {'two' if sec.two_tailed else 'one'}-tailed at alpha {sec.alpha:g}, target "
        f"power {sec.target:g}; closed forms of Dong & Maynard (2013, PowerUp!) with the "
        "noncentral t; MDES with PowerUp!'s multiplier and exactly.",
    ]
    if sec.simulate:
        lines.append(
            f"- Simulation: {sec.replications} replications per cell in {len(sec.batch_sizes())} "
            f"batches (seed {sec.seed}, batch b of cell c seeded [seed, c, b]), refitted by REML "
            f"with mlmpipe's engine and tested by {sec.test}; power with its Monte-Carlo SE and "
            "Wilson 95% interval; failed and singular fits counted per cell."
            + (
                " Fits showing a trigger of the plan's convergence ladder climb its rungs "
                f"({', '.join(sec.ladder.rungs)}) as the analysis will (t tests)."
                if sec.ladder
                else ""
            )
            + (
                f" A share {sec.mcar:g} of the level-1 outcomes is missing completely at random "
                "in each replicate (listwise; the closed forms assume complete data)."
                if sec.mcar
                else ""
            )
        )
    if sec.simulate and sec.pilot_data:
        lines.append(
            f"- Final model: the pilot fit {sec.pilot_fit} is the truth (fixed effects, every "
            "random-effects covariance matrix, sigma"
            + (
                f"; {sec.term} set to {sec.pilot_coefficient:g}"
                if sec.pilot_coefficient is not None
                else ""
            )
            + f"); whole clusters of {sec.pilot_data} are resampled to each grid count (their "
            "sizes and level-2 covariates kept), the full final model refitted by REML and "
            f"{sec.term} tested by {'satterthwaite' if sec.test == 'lrt' else sec.test}."
        )
    if alloc:
        lines.append(
            f"- Cost-optimal cluster size (Raudenbush 1997): {alloc['optimal_cluster_size']:.1f} "
            f"(costs {sec.cost[0]:g} per cluster, {sec.cost[1]:g} per unit); with n = "
            f"{alloc['cluster_size']} the target needs {alloc['clusters']} clusters, cost "
            f"{alloc['cost']:g}."
        )
    return "\n".join(lines) + "\n"


def write_outputs(sec: PowerSection, batches: list[dict] | None, out_dir=OUT_DIR) -> dict:
    """Write the tables, the figure, the assumptions and a JSON summary; return the summary."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    closed = analytic_table(sec)
    closed.to_csv(out / "analytic.csv", index=False)
    closed[["clusters", "cluster_size", "subclusters", "df", "mdes", "mdes_exact"]].to_csv(
        out / "mdes.csv", index=False
    )
    mins = min_clusters_table(sec)
    mins.to_csv(out / "min_clusters.csv", index=False)
    sim = simulation_table(sec, batches, closed) if batches else None
    (sim if sim is not None else pd.DataFrame()).to_csv(out / "simulation.csv", index=False)
    model = model_table(sec, batches)
    model.to_csv(out / "simulation_model.csv", index=False)
    power_figure(sec, closed, sim, out / "power_curve.png", model)
    alloc = allocation(sec)
    (out / "assumptions.md").write_text(assumptions_text(sec, alloc), encoding="utf-8")
    summary = {
        "design": sec.design,
        "effect": sec.effect,
        "test": sec.test,
        "allocation": alloc,
        "min_clusters": mins.to_dict(orient="records"),
        "max_abs_z_vs_analytic": None if sim is None else float(sim["z_vs_analytic"].abs().max()),
    }
    with open(out / "power.json", "w", encoding="utf-8") as fh:
        json.dump(_clean(summary), fh, indent=1)
    return summary


def _clean(v):
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_clean(x) for x in v]
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def run_power(sec: PowerSection, out_dir=OUT_DIR) -> dict:
    """The whole analysis in one process (``mlmpipe power``): every batch, then the outputs."""
    batches = (
        [simulate_batch(sec, b) for b in range(len(sec.batch_sizes()))] if sec.simulate else None
    )
    return write_outputs(sec, batches, out_dir)
