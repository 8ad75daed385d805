"""Readers for the data formats a plan may name: CSV, Parquet, SPSS ``.sav``, Stata ``.dta``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mlmpipe.errors import DataValidationError, PlanError

FORMATS = ("csv", "parquet", "sav", "dta")
_EXT = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".sav": "sav", ".dta": "dta"}


def detect_format(path: str | Path, fmt: str = "auto") -> str:
    if fmt != "auto":
        if fmt not in FORMATS:
            raise PlanError(
                f"data.format: {fmt!r} is not allowed; allowed values: auto, {', '.join(FORMATS)}"
            )
        return fmt
    ext = Path(path).suffix.lower()
    if ext not in _EXT:
        raise PlanError(
            f"data.format: cannot infer the format of {str(path)!r} from {ext!r}; "
            f"set data.format to one of {', '.join(FORMATS)}"
        )
    return _EXT[ext]


def read_table(path: str | Path, fmt: str = "auto") -> pd.DataFrame:
    """Read a data file into a DataFrame (SPSS/Stata value labels become categories)."""
    path = Path(path)
    if not path.exists():
        raise DataValidationError(f"data.file: {str(path)!r} does not exist")
    fmt = detect_format(path, fmt)
    if fmt == "csv":
        return pd.read_csv(path)
    if fmt == "parquet":
        return pd.read_parquet(path)
    import pyreadstat  # heavy: SPSS/Stata files only

    reader = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
    df, _meta = reader(str(path), apply_value_formats=True, formats_as_category=True)
    return df
