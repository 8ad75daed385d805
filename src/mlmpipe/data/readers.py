"""Readers for the data formats a plan may name: CSV, Parquet, SPSS ``.sav``, Stata ``.dta``,
Excel ``.xlsx`` (openpyxl; ``data.sheet`` picks the sheet, default the first) and R ``.rds`` /
``.RData`` data frames (pyreadr).

SPSS and Stata files are read with their *codes* (pyreadstat ``apply_value_formats=False``): the
value labels travel in ``df.attrs["value_labels"]`` (column -> {code: label}) and the data
checks turn the labels of columns the plan declares binary or categorical into the factor's
category labels (see :func:`mlmpipe.data.labels.apply_file_metadata`). SPSS user-defined missing
values (discrete values and ranges, pyreadstat ``user_missing=True``) and Stata extended missing
values ``.a``-``.z`` are set to missing here; what was set is kept in ``df.attrs["file_missing"]``
(column -> {value: count}) and listed in the data checks.

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

FORMATS = ("csv", "parquet", "sav", "dta", "xlsx", "rds", "rdata")
_EXT = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".sav": "sav",
    ".zsav": "sav",
    ".dta": "dta",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".xls": "xls",
    ".rds": "rds",
    ".rdata": "rdata",
    ".rda": "rdata",
}
#: The fallback of ``data.encoding: auto`` for a CSV file that is not UTF-8 (then Latin-1).
FALLBACK_ENCODINGS = ("cp1252", "latin-1")
_NAMES = {
    "csv": "CSV",
    "parquet": "Parquet",
    "sav": "SPSS .sav",
    "dta": "Stata .dta",
    "xlsx": "Excel .xlsx",
    "rds": "R .rds",
    "rdata": "R .RData",
}


def detect_format(path: str | Path, fmt: str = "auto") -> str:
    if fmt != "auto":
        if fmt not in FORMATS:
            raise PlanError(
                f"data.format: {fmt!r} is not allowed; allowed values: auto, {', '.join(FORMATS)}"
            )
        return fmt
    ext = Path(path).suffix.lower()
    if ext == ".xls":
        raise DataValidationError(
            f"data.file: {Path(path).name!r} is an old Excel .xls file, which mlmpipe does not "
            "read; open it in Excel or LibreOffice and save it as .xlsx (or CSV)"
        )
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


def _user_missing_mask(col: pd.Series, ranges: list[dict]) -> pd.Series:
    """Rows of an SPSS column inside one of its user-missing ranges (a discrete value is a range
    with ``lo == hi``)."""
    mask = pd.Series(False, index=col.index)
    num = pd.api.types.is_numeric_dtype(col)
    for r in ranges:
        lo, hi = r["lo"], r["hi"]
        if num and isinstance(lo, int | float):
            mask |= col.between(lo, hi) & col.notna()
        else:
            mask |= col.astype(object).map(lambda v, lo=lo: v == lo).astype(bool)
    return mask


def _file_missing(df: pd.DataFrame, meta, fmt: str) -> dict[str, dict[str, int]]:
    """Set the file's own missing values to NaN in place; return column -> {value: count}."""
    found: dict[str, dict[str, int]] = {}
    if fmt == "sav":
        for name, ranges in (meta.missing_ranges or {}).items():
            if name not in df:
                continue
            mask = _user_missing_mask(df[name], ranges)
            if mask.any():
                counts = df.loc[mask, name].map(
                    lambda v: f"{v:g}" if isinstance(v, float) else str(v)
                )
                found[name] = {k: int(n) for k, n in counts.value_counts().sort_index().items()}
                df[name] = df[name].mask(mask)
    else:  # Stata: extended missing values come back as the letters 'a'..'z'
        for name, tags in (meta.missing_user_values or {}).items():
            if name not in df:
                continue
            col = df[name]
            mask = (
                col.astype(object).map(lambda v, t=tags: isinstance(v, str) and v in t).astype(bool)
            )
            if mask.any():
                counts = col[mask].map(lambda v: "." + v).value_counts().sort_index()
                found[name] = {k: int(n) for k, n in counts.items()}
                df[name] = pd.to_numeric(col.mask(mask), errors="coerce")
    return found


def _read_stat(path: Path, fmt: str) -> pd.DataFrame:
    import pyreadstat  # heavy: SPSS/Stata files only

    reader = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
    df, meta = reader(str(path), apply_value_formats=False, user_missing=True)
    _check_unique_names(list(df.columns), path)
    file_missing = _file_missing(df, meta, fmt)
    df.attrs["value_labels"] = {
        str(k): {c: str(lab) for c, lab in v.items()}
        for k, v in (meta.variable_value_labels or {}).items()
        if k in df
    }
    df.attrs["file_missing"] = file_missing
    return df


def _read_excel(path: Path, sheet: str | None) -> pd.DataFrame:
    try:
        import openpyxl  # heavy: Excel files only
    except ImportError:  # pragma: no cover - a declared dependency
        raise DataValidationError(
            "data.file: reading .xlsx needs openpyxl (pip install openpyxl)"
        ) from None
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    names = wb.sheetnames
    if sheet is not None and str(sheet) not in names:
        wb.close()
        raise PlanError(
            f"data.sheet: {path.name!r} has no sheet {sheet!r}; its sheets: {', '.join(names)}"
        )
    ws = wb[str(sheet) if sheet is not None else names[0]]
    header = next(ws.iter_rows(max_row=1, values_only=True), ())
    wb.close()
    _check_unique_names([str(h).strip() for h in header if h is not None], path)
    return pd.read_excel(path, sheet_name=str(sheet) if sheet is not None else names[0])


def _read_r(path: Path, fmt: str) -> pd.DataFrame:
    import pyreadr  # heavy: R files only

    result = pyreadr.read_r(str(path))
    frames = {k: v for k, v in result.items() if isinstance(v, pd.DataFrame)}
    if not frames:
        raise DataValidationError(
            f"data.file: {path.name!r} holds no data frame; in R, save one with "
            "saveRDS(df, 'file.rds') or write.csv(df, 'file.csv', row.names = FALSE)"
        )
    if len(frames) > 1:
        raise DataValidationError(
            f"data.file: {path.name!r} holds {len(frames)} objects ({', '.join(frames)}); save "
            "the one data frame to analyse with saveRDS(df, 'file.rds')"
        )
    return next(iter(frames.values())).reset_index(drop=True)


def read_table(
    path: str | Path, fmt: str = "auto", encoding: str = "auto", sheet: str | None = None
) -> pd.DataFrame:
    """Read a data file into a DataFrame (see the module docstring for labels and missing values).

    ``encoding`` (plan key ``data.encoding``) applies to CSV files, ``sheet`` (``data.sheet``) to
    Excel files.
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
        elif fmt in ("sav", "dta"):
            return _read_stat(path, fmt)
        elif fmt == "xlsx":
            return _read_excel(path, sheet)
        else:
            df = _read_r(path, fmt)
    except (MemoryError, KeyboardInterrupt, DataValidationError, PlanError):
        raise
    except Exception as exc:  # pyarrow/pyreadstat/openpyxl/pyreadr errors: a damaged file
        raise DataValidationError(
            f"data.file: {path.name!r} cannot be read as {_NAMES[fmt]} ({_first_line(exc)}); "
            "check the file or data.format"
        ) from None
    _check_unique_names(list(df.columns), path)
    return df
