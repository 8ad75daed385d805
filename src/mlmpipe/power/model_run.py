"""The ``power.pilot.data`` part of a power analysis: per grid count of clusters, batches of the
full final model simulated from the pilot fit (:mod:`mlmpipe.power.model_sim`) and their pooled
table (power/simulation_model.csv)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mlmpipe.errors import MlmpipeError, PlanError
from mlmpipe.power.model_sim import run_model_batch, truth_from_record
from mlmpipe.power.section import PowerSection
from mlmpipe.power.simulate import summarise
from mlmpipe.record import load_record

#: cell indices of the model simulation start here (distinct seeds from the design cells)
CELL_OFFSET = 10_000


def read_pilot_data(path: str) -> pd.DataFrame:
    """The pilot data file (csv or parquet)."""
    p = Path(path)
    if not p.exists():
        raise PlanError(f"power.pilot.data: no such file {path!r}")
    return pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p)


def model_batch(sec: PowerSection, batch: int) -> list[dict]:
    """Batch ``batch`` of the final-model simulation, one entry per grid count of clusters; a
    count that cannot be simulated records its reason and the others go on."""
    if not sec.pilot_data:
        return []
    rec = load_record(sec.pilot_fit)
    truth = truth_from_record(rec, sec.term, sec.pilot_coefficient)
    frame = read_pilot_data(sec.pilot_data)
    reps = sec.batch_sizes()[batch]
    test = "satterthwaite" if sec.test == "lrt" else sec.test
    out = []
    for i, c in enumerate(sec.clusters):
        try:
            r = run_model_batch(
                truth, frame, sec.cluster, sec.term, c, test, reps, sec.alpha, sec.seed,
                CELL_OFFSET + i, batch, sec.mcar,
            )  # fmt: skip
        except MlmpipeError as exc:
            r = {"reps": reps, "rejected": 0, "failed": reps, "singular": 0,
                 "reasons": [str(exc).splitlines()[0]], "seconds": 0.0}  # fmt: skip
        out.append({**r, "clusters": c})
    return out


def model_table(sec: PowerSection, batches: list[dict] | None) -> pd.DataFrame:
    """Pooled final-model cells: power, MC SE, Wilson 95% interval, failures, singular fits."""
    if not batches or not batches[0].get("model_cells"):
        return pd.DataFrame()
    rows = []
    for i, c in enumerate(sec.clusters):
        per = [b["model_cells"][i] for b in batches]
        rows.append(
            {
                "clusters": c,
                "term": next((p["term"] for p in per if "term" in p), sec.term),
                "replications": sum(p["reps"] for p in per),
                **summarise(per),
                "failed": sum(p["failed"] for p in per),
                "singular": sum(p["singular"] for p in per),
                "reasons": "; ".join(sorted({r for p in per for r in p["reasons"]})),
            }
        )
    return pd.DataFrame(rows)
