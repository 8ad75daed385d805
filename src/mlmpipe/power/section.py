"""The typed ``power:`` section of a plan (schema: ``power`` in analysis.schema.yaml).

Effects are given standardised (``effect``: treatment coefficient over the total outcome SD, with
``icc``, ``omega`` and ``r2`` per level, as PowerUp!) or raw (``raw``: the coefficient and the
variance components, converted to the standardised quantities: ``es = b / sqrt(total)``,
``rho_l = tau_l / total``, ``omega_l = slope variance_l / tau_l``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from mlmpipe.errors import PlanError
from mlmpipe.ladder import Ladder
from mlmpipe.plan import Plan
from mlmpipe.plan.schema import validate_config
from mlmpipe.power.analytic import THREE_LEVEL, DesignParams
from mlmpipe.power.model_sim import fixed_column
from mlmpipe.power.simulate import SIMULATED, TESTS
from mlmpipe.record import load_record

# the level whose units give the df carries the covariate counted in g (as the simulation)
_G_LEVEL = {"cra2": "level2", "cra3": "level3", "bira2f": "level1"}


@dataclass(frozen=True)
class PowerSection:
    """``power``: design, standardised truth, grids, test and simulation settings."""

    params: DesignParams
    effect: float
    term: str
    clusters: tuple[int, ...]
    cluster_sizes: tuple[int, ...]
    subclusters: tuple[int, ...]
    alpha: float
    target: float
    two_tailed: bool
    test: str
    simulate: bool
    replications: int
    batches: int
    seed: int
    cost: tuple[float, float] | None
    mcar: float = 0.0
    ladder: Ladder | None = None  # the plan's convergence ladder, for the simulated fits
    pilot_fit: str | None = None  # FitRecord of the pilot (power.pilot.fit)
    pilot_data: str | None = None  # its data: simulate the full final model (power.pilot.data)
    pilot_coefficient: float | None = None  # the value of term to simulate under
    cluster: str | None = None  # the plan's level-2 id column (resampled by the model simulation)

    @property
    def design(self) -> str:
        return self.params.design

    @property
    def three_level(self) -> bool:
        return self.params.design in THREE_LEVEL

    def cells(self) -> list[tuple[int, int, int]]:
        """Grid cells ``(clusters, cluster_size, subclusters)`` in a fixed order (the cell index
        seeds the simulation); subclusters is 1 for 2-level designs."""
        subs = self.subclusters if self.three_level else (1,)
        return [(c, n, s) for s in subs for n in self.cluster_sizes for c in self.clusters]

    def batch_sizes(self) -> list[int]:
        """Replications per batch: ``replications`` split as evenly as possible."""
        q, r = divmod(self.replications, self.batches)
        return [q + (b < r) for b in range(self.batches) if q + (b < r) > 0]


def _standardise(raw: dict) -> tuple[float, dict, dict]:
    t1, t2, t3 = raw["residual"], raw["level2"], raw["level3"]
    total = t1 + t2 + t3
    if total <= 0:
        raise PlanError("power.raw: the variance components sum to 0")
    omega = {
        "level2": raw["slope2"] / t2 if t2 > 0 else 0.0,
        "level3": raw["slope3"] / t3 if t3 > 0 else 0.0,
    }
    return (
        raw["coefficient"] / math.sqrt(total),
        {"level2": t2 / total, "level3": t3 / total},
        omega,
    )


def _pilot_raw(path: str, term: str, plan: Plan, three: bool) -> dict:
    """Raw truth from a pilot fit (a FitRecord of the pipeline, as simr's ``extend``): the
    estimate of ``term``, sigma^2, the intercept variances of the plan's level-2 (and level-3)
    grouping factor and the variance of ``term``'s random slope there, if any. The pilot's
    variances are conditional on its covariates (its r2 are then 0)."""
    if not term:
        raise PlanError("power.pilot: needs power.term, the treatment term of the pilot fit")
    try:
        rec = load_record(path)
    except (OSError, ValueError, KeyError) as exc:
        raise PlanError(f"power.pilot.fit: cannot read the fit record {path!r}: {exc}") from exc
    try:  # a plan term names its R column (cses:sector -> cses:sectorCatholic)
        col = fixed_column(rec.fixed_terms, term)
    except PlanError:
        raise PlanError(
            f"power.term: {term!r} is not a fixed term of the pilot fit; its terms: "
            f"{', '.join(rec.fixed_terms)}"
        ) from None
    covs = rec.covariance_matrices()
    ids = [lv.id for lv in plan.cluster_levels][: 2 if three else 1]
    out = {"coefficient": rec.fixed_effect(col).estimate, "residual": float(rec.sigma) ** 2}
    for k, gid in enumerate(ids, start=2):
        if gid not in covs:
            raise PlanError(
                f"power.pilot.fit: no random effects for {gid!r} in the pilot fit; its grouping "
                f"factors: {', '.join(covs)}"
            )
        names, S = covs[gid]
        out[f"level{k}"] = float(S[names.index("(Intercept)"), names.index("(Intercept)")])
        out[f"slope{k}"] = float(S[names.index(col), names.index(col)]) if col in names else 0.0
    out.setdefault("level3", 0.0)
    out.setdefault("slope3", 0.0)
    return out


def power_section(cfg: dict, plan: Plan) -> PowerSection:
    """Build the typed section from the validated plan config ``cfg`` (with ``power``) and the
    plan: the tested term must be a fixed term of the final model; alpha, the df method (test
    ``plan``) and the seed default to the plan's."""
    d = cfg["power"]
    if sum(k in d for k in ("effect", "raw", "pilot")) != 1:
        raise PlanError(
            "power: give exactly one of 'effect' (standardised), 'raw' and 'pilot' (a fit)"
        )
    if "pilot" in d:
        raw = _pilot_raw(d["pilot"]["fit"], d["term"], plan, d["design"] in THREE_LEVEL)
        if d["pilot"].get("coefficient") is not None:  # the value to detect, not the pilot's
            raw["coefficient"] = float(d["pilot"]["coefficient"])
        es, icc, omega = _standardise(raw)
    elif "raw" in d:
        es, icc, omega = _standardise(d["raw"])
    else:
        es, icc, omega = d["effect"], d["icc"], d["omega"]
    design = d["design"]
    final = plan.model(plan.final_model)
    if d["term"] and d["term"] not in final.fixed:
        raise PlanError(
            f"power.term: {d['term']!r} is not a fixed term of the final model "
            f"{final.name}; its terms: {', '.join(final.fixed)}"
        )
    test = plan.estimation.df_method if d["test"] == "plan" else d["test"]
    if test not in TESTS:
        raise PlanError(f"power.test: {test!r} (from the plan); allowed: {', '.join(TESTS)}")
    r2 = d["r2"]
    g_level = _G_LEVEL.get(design, "level3" if design in THREE_LEVEL else "level2")
    if design.startswith("bi") or design == "bcra3":
        g = 0  # blocked designs: the simulation has no covariate at the df level
    else:
        g = int(r2[g_level] > 0)
    params = DesignParams(
        design,
        rho2=icc["level2"],
        rho3=icc["level3"],
        omega2=omega["level2"],
        omega3=omega["level3"],
        p=d["p_treated"],
        r2_1=r2["level1"],
        r2_2=r2["level2"],
        r2_3=r2["level3"],
        r2_t2=r2["treatment2"],
        r2_t3=r2["treatment3"],
        g=g,
    )
    if d["simulate"] and design not in SIMULATED:
        raise PlanError(
            f"power.simulate: design {design!r} has closed forms only; set simulate: false"
        )
    grid = d["grid"]
    cost = d["cost"]
    return PowerSection(
        params=params,
        effect=float(es),
        term=d["term"],
        clusters=tuple(grid["clusters"]),
        cluster_sizes=tuple(grid["cluster_size"]),
        subclusters=tuple(grid["subclusters"]),
        alpha=plan.alpha if d["alpha"] is None else d["alpha"],
        target=d["target"],
        two_tailed=d["two_tailed"],
        test=test,
        simulate=d["simulate"],
        replications=d["replications"],
        batches=d["batches"],
        seed=plan.seed if d["seed"] is None else d["seed"],
        cost=(cost["cluster"], cost["unit"]) if cost else None,
        mcar=d["mcar"],
        ladder=Ladder(plan.convergence.triggers, plan.convergence.rungs, plan.convergence.optimizer)
        if d["ladder"]
        else None,
        pilot_fit=d.get("pilot", {}).get("fit"),
        pilot_data=d.get("pilot", {}).get("data"),
        pilot_coefficient=d.get("pilot", {}).get("coefficient"),
        cluster=plan.cluster_levels[0].id if plan.cluster_levels else None,
    )


def load_power(path: str | Path, schema=None) -> tuple[Plan, PowerSection]:
    """Read a plan file, validate it (schema, once) and return the plan and its power section."""
    with open(path, encoding="utf-8") as fh:
        config = yaml.safe_load(fh)
    if not isinstance(config, dict) or "power" not in config:
        raise PlanError(f"power: the plan {path} has no 'power:' section")
    plan = Plan.from_config(config, schema)
    return plan, power_section(validate_config(config, schema), plan)
