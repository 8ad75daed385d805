"""HSB with the plan's group-mean centring of ses, and the R effect-size fixture."""

import json
from pathlib import Path

import numpy as np
import pytest

from mlmpipe.record import FitRecord

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "effects" / "hsb_effects.json"


@pytest.fixture(scope="session")
def hsb():
    from mlmpipe.data.example import load_example

    d = load_example("hsb")
    d["meanses"] = d.groupby("school")["ses"].transform("mean")
    d["cses"] = d["ses"] - d["meanses"]
    return d


@pytest.fixture(scope="session")
def rfix():
    return json.loads(FIXTURE.read_text())


def as_fit(name: str, entry: dict) -> dict:
    """A result dict carrying R's estimates (so the tests check the formulas, not the optimizer)."""
    return {
        "model": name,
        "formula": entry["formula"],
        "reml": True,
        "theta": [float(t) for t in np.atleast_1d(entry["theta"])],
        "fixed": entry["fixed"],
        "random": entry["random"],
    }


@pytest.fixture(scope="session")
def rfits(rfix):
    return {name: as_fit(name, e) for name, e in rfix["models"].items()}


@pytest.fixture(scope="session")
def rrecs(rfits):
    """The R fits as fit records (the consumers' input type)."""
    return {name: FitRecord.from_dict(d) for name, d in rfits.items()}
