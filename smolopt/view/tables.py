"""A results.json table the view does not know by name (an optimize run's `arms`: seed / prompt /
weights / both), shown as it is: one column per key, nested objects flattened to `key.sub`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[str]]


def cell(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value).lower()
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def flat(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict):
            found.update(flat(value, f"{prefix}{key}."))
        else:
            found[f"{prefix}{key}"] = value
    return found


def generic_table(rows: Any) -> Table | None:
    """A list of objects as a table (None when `rows` is not one)."""
    if not isinstance(rows, list) or not rows or not all(isinstance(row, dict) for row in rows):
        return None
    flattened = [flat(row) for row in rows]
    headers = list(dict.fromkeys(key for row in flattened for key in row))
    return Table(headers, [[cell(row.get(key)) for key in headers] for row in flattened])
