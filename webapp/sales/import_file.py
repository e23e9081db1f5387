"""Reading a sales CSV file: decode it, check its header, split it into rows of trimmed cells.

Whole-file problems (size, encoding, header, row count) are an ImportFileError, shown beside the
upload field; problems with single cells are the import's (imports.py).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from webapp.errors import ServiceError
from webapp.sales.csv_format import FORMULA_PREFIXES, IMPORT_COLUMNS, OPTIONAL_COLUMNS, SALES_COLUMNS

MAX_ROWS = 5000
# Columns of our own sales export beyond the import's; a re-imported export may carry them.
IGNORED_COLUMNS = tuple(c for c in SALES_COLUMNS if c not in IMPORT_COLUMNS)


class ImportFileError(ServiceError):
    """The file as a whole cannot be imported (size, encoding, header, row count)."""

    def __init__(self, message: str, status: int = 422):
        """A message about the file, shown beside the upload field."""
        super().__init__(message, "file", status=status)


@dataclass(frozen=True)
class ImportRow:
    """One data row of the file, as text, with the line it starts on."""

    line: int
    cells: dict[str, str]
    width: int  # how many cells the line had (the header's count when well formed)


def _cell(text: str) -> str:
    """A cell's text, trimmed; our export's neutralising apostrophe before =, +, -, @ is dropped."""
    text = text.strip()
    if len(text) > 1 and text[0] == "'" and text[1:].startswith(FORMULA_PREFIXES):
        return text[1:]
    return text


def parse_file(data: bytes) -> tuple[list[ImportRow], list[str]]:
    """Decode and split the file; returns (rows, header) or raises ImportFileError."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ImportFileError(f"The file is not UTF-8 text (line {line} has a byte that is not). "
                              "Save it as \"CSV UTF-8\" and upload it again.") from exc
    if "\x00" in text:
        raise ImportFileError("This does not look like a CSV file (it contains NUL bytes).")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise ImportFileError("The file is empty.")
        columns = [h.strip().lower() for h in header]
        _check_header(columns)
        rows, line = [], reader.line_num + 1
        for cells in reader:
            start, line = line, reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue  # blank lines (often at the end of a file) are not rows
            if len(rows) >= MAX_ROWS:
                raise ImportFileError(
                    f"The file has more than {MAX_ROWS:,} rows. Split it into smaller files.")
            rows.append(ImportRow(start, {name: _cell(value) for name, value in zip(columns, cells)}, len(cells)))
    except csv.Error as exc:
        raise ImportFileError(f"Line {reader.line_num}: the file is not valid CSV ({exc}).") from exc
    if not rows:
        raise ImportFileError("The file has a header but no rows.")
    return rows, columns


def _check_header(columns: list[str]) -> None:
    """The header must name every import column once; the optional columns (co_agents) and our
    export's extra columns are allowed."""
    expected = ", ".join(IMPORT_COLUMNS)
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise ImportFileError(f"The header repeats {', '.join(duplicates)}. Expected: {expected}.")
    missing = [c for c in IMPORT_COLUMNS if c not in columns]
    unknown = [c for c in columns if c not in IMPORT_COLUMNS + OPTIONAL_COLUMNS and c not in IGNORED_COLUMNS]
    if missing or unknown:
        problems = []
        if missing:
            problems.append(f"missing {', '.join(missing)}")
        if unknown:
            problems.append(f"unknown {', '.join(repr(c) for c in unknown)}")
        raise ImportFileError(f"Wrong header ({'; '.join(problems)}). Expected: {expected}.")
