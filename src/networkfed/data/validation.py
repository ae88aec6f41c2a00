"""Checks on user files: each failure is a :class:`DataValidationError` naming where to look.

Row numbers in messages are **file line numbers** (the header, where there is one, is line 1),
so a user can open the file and go straight to the first offending line.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from networkfed.core.errors import DataValidationError

__all__ = [
    "check_binary_label",
    "numeric_column",
    "read_table",
    "require_columns",
]


def read_table(
    path: str | Path,
    *,
    whitespace: bool = False,
    names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read a CSV (UTF-8, optional BOM) or a whitespace-separated headerless file.

    Raises
    ------
    DataValidationError
        If the path does not exist, is a folder, is empty or cannot be parsed as a table.
    """
    path = Path(path)
    if not path.exists():
        raise DataValidationError("file does not exist", path=path)
    if not path.is_file():
        raise DataValidationError("is not a file (expected a table)", path=path)
    try:
        if whitespace:
            frame = pd.read_csv(path, sep=r"\s+", header=None, names=names, encoding="utf-8-sig")
        else:
            frame = pd.read_csv(path, encoding="utf-8-sig", skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise DataValidationError("file is empty (expected a table)", path=path) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        problem = f"is not a readable table ({type(error).__name__}: {error})".replace("\n", " ")
        raise DataValidationError(problem, path=path) from None
    if frame.empty:
        raise DataValidationError("has a header but no data rows", path=path)
    return frame


def require_columns(
    frame: pd.DataFrame, required: Sequence[str], path: str | Path | None, what: str = "column"
) -> None:
    """Fail on the first missing column, suggesting the closest existing name."""
    present = [str(c) for c in frame.columns]
    for name in required:
        if name in frame.columns:
            continue
        close = difflib.get_close_matches(name, present, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else f"columns in the file: {present}"
        raise DataValidationError(f"{what} not found", path=path, column=name, hint=hint)


def _line_numbers(mask: np.ndarray, first_line: int) -> list[int]:
    """File line numbers of every offending row (the error shows the first few and a count)."""
    return (np.flatnonzero(mask) + first_line).tolist()


def numeric_column(
    frame: pd.DataFrame, column: str, path: str | Path | None, *, first_line: int = 2
) -> np.ndarray:
    """The column as finite float64 values, or an error naming the first bad lines.

    ``first_line`` is the file line of the frame's first row (2 with a header, 1 without).
    """
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(np.float64)
    missing = raw.isna().to_numpy()
    bad_text = np.isnan(values) & ~missing
    if bad_text.any():
        example = raw[bad_text].iloc[0]
        raise DataValidationError(
            f"non-numeric value {example!r}",
            path=path,
            column=column,
            rows=_line_numbers(bad_text, first_line),
        )
    checks = ((missing, "missing value (empty or NaN)"), (np.isinf(values), "infinite value"))
    for mask, problem in checks:
        if mask.any():
            rows = _line_numbers(mask, first_line)
            raise DataValidationError(problem, path=path, column=column, rows=rows)
    return values


def check_binary_label(
    frame: pd.DataFrame, column: str, path: str | Path | None, *, first_line: int = 2
) -> np.ndarray:
    """The label column as int64 0/1, or an error listing the non-binary values found."""
    values = numeric_column(frame, column, path, first_line=first_line)
    bad = (values != 0.0) & (values != 1.0)
    if bad.any():
        found = sorted({float(v) for v in values[bad]})[:5]
        shown = ", ".join(f"{v:g}" for v in found)
        raise DataValidationError(
            f"label must be binary (0 = no failure, 1 = failure); found {shown}",
            path=path,
            column=column,
            rows=_line_numbers(bad, first_line),
        )
    return values.astype(np.int64)
