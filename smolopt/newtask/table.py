"""A user's table file read into rows of text, each with the line it starts on.

    .csv    comma-separated, with a header row (Python's csv module: quoted cells may hold commas
            and line breaks)
    .tsv    the same, tab-separated
    .jsonl  one JSON object per line; its keys are the columns

Every cell is text with its surrounding spaces removed (a JSON number or boolean as JSON writes it:
3, 2.5, true). A file that is not UTF-8, a CSV row with more cells than its header, or a JSONL line
that is not an object is one error naming the file and line. Blank lines are skipped; a row with
fewer cells than the header gets empty ones (some exporters leave trailing empty cells out), and a
row of empty cells is kept: the row checks name both.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smolopt.errors import SmoloptError
from smolopt.jsonl import checked_rows
from smolopt.tasks import read_text

DELIMITERS = {".csv": ",", ".tsv": "\t"}
FORMATS = (*DELIMITERS, ".jsonl")


@dataclass(frozen=True)
class Row:
    """One data row: the line of the file it starts on, and its cells by column."""

    line: int
    cells: dict[str, str]


@dataclass(frozen=True)
class Table:
    path: Path
    columns: tuple[str, ...]
    rows: list[Row]


def read_table(path: Path) -> Table:
    """The file's rows, read by its extension; an error names the file and line."""
    kind = path.suffix.lower()
    if kind not in FORMATS:
        raise SmoloptError(f"{path}: reads {', '.join(FORMATS)} files (by extension); save it as CSV, TSV or JSONL")
    if path.is_dir():
        raise SmoloptError(f"{path}: is a folder, not a {kind} file")
    text = read_text(path).removeprefix("\ufeff")  # a byte-order mark, as Excel writes in front of a UTF-8 CSV
    table = _read_jsonl(path, text) if kind == ".jsonl" else _read_delimited(path, text, DELIMITERS[kind])
    if not table.rows:
        raise SmoloptError(f"{path}: no data rows")
    return table


def _read_delimited(path: Path, text: str, delimiter: str) -> Table:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns: tuple[str, ...] | None = None
    rows: list[Row] = []
    ended = 0  # the last line of the record before; a record starts on the line after it
    try:
        for record in reader:
            start, ended = ended + 1, reader.line_num
            if not record:
                continue  # a blank line is no row (as in JSONL); a row of empty cells is one, which the row checks refuse
            if columns is None:
                columns = _header(path, start, [cell.strip() for cell in record])
                continue
            if len(record) > len(columns):
                raise SmoloptError(f"{path}:{start}: {len(record)} cells where the header has {len(columns)} "
                                   f"(a {'tab' if delimiter == chr(9) else 'comma'} inside a text that is not quoted?)")
            cells = [cell.strip() for cell in record] + [""] * (len(columns) - len(record))
            rows.append(Row(start, dict(zip(columns, cells))))
    except csv.Error as err:
        raise SmoloptError(f"{path}:{reader.line_num}: not readable as {path.suffix.lower()[1:].upper()} ({err})") from None
    if columns is None:
        raise SmoloptError(f"{path}: empty (expected a header row naming the columns)")
    return Table(path, columns, rows)


def _header(path: Path, line: int, names: list[str]) -> tuple[str, ...]:
    if "" in names:
        raise SmoloptError(f"{path}:{line}: column {names.index('') + 1} of the header has no name")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise SmoloptError(f"{path}:{line}: the header names column '{repeated[0]}' twice")
    return tuple(names)


def _read_jsonl(path: Path, text: str) -> Table:
    numbered = [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]

    def problem(row: Any) -> str | None:
        if not isinstance(row, dict):
            return "expected a JSON object, one per line"
        nested = [key for key, value in row.items() if isinstance(value, (dict, list))]
        return f"'{nested[0]}' holds a {type(row[nested[0]]).__name__}; columns hold text, numbers or booleans" if nested else None

    objects = checked_rows(text, path, problem)
    columns = tuple(dict.fromkeys(key for row in objects for key in row))  # every key, in the order first seen
    rows = [Row(number, {column: _cell(row.get(column)) for column in columns}) for (number, _), row in zip(numbered, objects)]
    return Table(path, columns, rows)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else json.dumps(value)
