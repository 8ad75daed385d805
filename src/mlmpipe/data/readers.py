"""Readers for the data formats a plan may name: CSV, Parquet, SPSS ``.sav``, Stata ``.dta``.

A file that cannot be read is a one-line :class:`DataValidationError` naming the file and the
plan key (``data.file``, ``data.format``, ``data.encoding``), never a library exception. A CSV
file is read as UTF-8 unless ``data.encoding`` says otherwise; with ``auto`` a file that is not
UTF-8 is read as Windows-1252 (a superset of Latin-1's printable characters, the usual encoding
of files exported on Western-European Windows systems), with a warning. Duplicate column names
are an error (pandas would silently rename the second ``x`` to ``x.1``).
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import pandas as pd

from mlmpipe.errors import DataCheckWarning, DataValidationError, PlanError

FORMATS = ("csv", "parquet", "sav", "dta")
_EXT = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".sav": "sav", ".dta": "dta"}
#: The fallback of ``data.encoding: auto`` for a CSV file that is not UTF-8 (then Latin-1).
FALLBACK_ENCODINGS = ("cp1252", "latin-1")
_NAMES = {"csv": "CSV", "parquet": "Parquet", "sav": "SPSS .sav", "dta": "Stata .dta"}


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


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _csv_encoding(path: Path, encoding: str) -> str:
    """The encoding to read a CSV file with (``auto``: UTF-8, else the fallback with a warning)."""
    raw = path.read_bytes()
    if encoding != "auto":
        try:
            raw.decode(encoding)
        except LookupError:
            raise PlanError(
                f"data.encoding: {encoding!r} is not an encoding Python knows"
            ) from None
        except UnicodeDecodeError as exc:
            raise DataValidationError(
                f"data.encoding: {str(path)!r} is not {encoding} text (byte 0x{raw[exc.start]:02x} "
                f"at offset {exc.start}); set data.encoding to the file's encoding (e.g. "
                "utf-8, cp1252, latin-1)"
            ) from None
        return encoding
    try:
        raw.decode("utf-8")
        return "utf-8-sig"  # also strips a byte-order mark
    except UnicodeDecodeError as exc:
        bad = f"byte 0x{raw[exc.start]:02x} at offset {exc.start}"
    for enc in FALLBACK_ENCODINGS:
        try:
            raw.decode(enc)
        except UnicodeDecodeError:
            continue
        warnings.warn(
            f"data.encoding: {path.name!r} is not UTF-8 ({bad}); read as {enc}. Check the "
            f"non-ASCII text in the data checks and set data.encoding: {enc} (or the file's "
            "real encoding) to confirm",
            DataCheckWarning,
            stacklevel=3,
        )
        return enc
    raise AssertionError("latin-1 decodes every byte")  # pragma: no cover


def _check_unique_names(names: list, path: Path) -> None:
    seen: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        key = str(name)
        if key in seen:
            raise DataValidationError(
                f"data.file: column name {key!r} occurs more than once in {path.name!r} (columns "
                f"{seen[key]} and {i}); rename one of them: which one the plan means is ambiguous"
            )
        seen[key] = i


def _read_csv(path: Path, encoding: str) -> pd.DataFrame:
    enc = _csv_encoding(path, encoding)
    with open(path, encoding=enc, newline="") as fh:
        header = next(csv.reader(fh), [])
    _check_unique_names([h.strip() for h in header], path)
    try:
        return pd.read_csv(path, encoding=enc)
    except pd.errors.EmptyDataError:
        raise DataValidationError(
            f"data.file: {path.name!r} holds no data (no header line with column names)"
        ) from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataValidationError(
            f"data.file: {path.name!r} cannot be read as CSV ({_first_line(exc)})"
        ) from None


def read_table(path: str | Path, fmt: str = "auto", encoding: str = "auto") -> pd.DataFrame:
    """Read a data file into a DataFrame (SPSS/Stata value labels become categories).

    ``encoding`` (plan key ``data.encoding``) applies to CSV files; see the module docstring.
    """
    path = Path(path)
    if not path.exists():
        raise DataValidationError(f"data.file: {str(path)!r} does not exist")
    fmt = detect_format(path, fmt)
    if path.stat().st_size == 0:
        raise DataValidationError(f"data.file: {path.name!r} is empty (0 bytes)")
    if fmt == "csv":
        return _read_csv(path, encoding)
    try:
        if fmt == "parquet":
            df = pd.read_parquet(path)
        else:
            import pyreadstat  # heavy: SPSS/Stata files only

            reader = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
            df, _meta = reader(str(path), apply_value_formats=True, formats_as_category=True)
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:  # pyarrow/pyreadstat errors: a damaged or mislabelled file
        raise DataValidationError(
            f"data.file: {path.name!r} cannot be read as {_NAMES[fmt]} ({_first_line(exc)}); "
            "check the file or data.format"
        ) from None
    _check_unique_names(list(df.columns), path)
    return df
