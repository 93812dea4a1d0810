"""The rows of a table a task can be made of: its input and target columns, checked.

Refused, with what to fix: a column the file lacks (naming those it has), a row with an empty input
or target (counted, with those empty altogether), and a row whose inputs repeat an earlier row's. Duplicates are refused, not dropped: a
copy in train and another in test would be scored as if never seen, and a copy with another target
is a contradiction only the user can settle. A label task also needs two labels or more, each with
a row for train, val and test.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from smolopt.errors import SmoloptError
from smolopt.newtask.table import Table

MIN_PER_LABEL = 3  # one row each for train, val and test
SHOWN = 5  # line numbers an error lists before "and N more"


@dataclass(frozen=True)
class Record:
    """One usable row: the line it starts on, its input texts (in the order of the input columns) and its target."""

    line: int
    inputs: tuple[str, ...]
    target: str


def lines_text(lines: Sequence[int]) -> str:
    """"lines 4, 9 and 12", with the first few of a long list and how many more."""
    shown = [str(line) for line in lines[:SHOWN]]
    more = f" and {len(lines) - SHOWN} more" if len(lines) > SHOWN else ""
    if len(lines) == 1:
        return f"line {shown[0]}"
    return f"lines {', '.join(shown)}{more}" if more else f"lines {', '.join(shown[:-1])} and {shown[-1]}"


def records(table: Table, inputs: Sequence[str], target: str) -> list[Record]:
    """The table's rows as records of the chosen columns; an error names the file, the rows and what to do."""
    path = table.path
    for column in (*inputs, target):
        if column not in table.columns:
            raise SmoloptError(f"{path}: no column '{column}' (its columns: {', '.join(table.columns)})")
    if target in inputs:
        raise SmoloptError(f"{path}: column '{target}' is both an input and the answer; name it in one place only")
    used = (*inputs, target)
    empty = [row for row in table.rows if any(not row.cells[column] for column in used)]
    if empty:
        blank = sum(not any(row.cells[column] for column in used) for row in empty)
        raise SmoloptError(f"{path}: {len(empty)} {'row lacks' if len(empty) == 1 else 'rows lack'} {' or '.join(repr(c) for c in used)} "
                           f"({lines_text([row.line for row in empty])}; {blank} of them empty altogether); fill them in or remove them")
    found = [Record(row.line, tuple(row.cells[column] for column in inputs), row.cells[target]) for row in table.rows]
    _refuse_duplicates(table, found)
    return found


def _refuse_duplicates(table: Table, found: list[Record]) -> None:
    first: dict[tuple[str, ...], Record] = {}
    repeats: list[tuple[Record, Record]] = []
    for record in found:
        if record.inputs in first:
            repeats.append((record, first[record.inputs]))
        else:
            first[record.inputs] = record
    if not repeats:
        return
    contradicting = sum(record.target != earlier.target for record, earlier in repeats)
    which = f", {contradicting} of them with another answer" if contradicting else ""
    record, earlier = repeats[0]
    raise SmoloptError(f"{table.path}: {len(repeats)} {'row repeats' if len(repeats) == 1 else 'rows repeat'} an earlier row's inputs "
                       f"({lines_text([r.line for r, _ in repeats])}; line {record.line} repeats line {earlier.line}){which}; "
                       "duplicates are refused, not dropped, so that no text is both tuned on and tested on: remove them")


def check_labels(table: Table, column: str, found: list[Record]) -> Counter:
    """The label counts of a label task; one label only, or a label too rare to be in every split, is an error."""
    counts = Counter(record.target for record in found)
    if len(counts) == 1:
        label = next(iter(counts))
        raise SmoloptError(f"{table.path}: column '{column}' has one label only ('{label}', {counts[label]} rows); "
                           "a label task needs two or more (free text? use --output)")
    rare = sorted((label for label, count in counts.items() if count < MIN_PER_LABEL), key=lambda label: (counts[label], label))
    if rare:
        label = rare[0]
        lines = [record.line for record in found if record.target == label]
        others = f"; {len(rare) - 1} more labels have fewer than {MIN_PER_LABEL} too" if len(rare) > 1 else ""
        hint = f" (is '{column}' free text? use --output)" if len(rare) > len(counts) / 2 else ""
        raise SmoloptError(f"{table.path}: label '{label}' has {counts[label]} {'row' if counts[label] == 1 else 'rows'} ({lines_text(lines)}); "
                           f"each label needs {MIN_PER_LABEL} or more, one for each of train, val and test{others}: "
                           f"add rows or merge it into another label{hint}")
    return counts
