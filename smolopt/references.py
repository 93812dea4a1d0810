"""Reference outputs a teacher model wrote for a task, kept in the task folder.

`tasks/<name>/references.jsonl` holds one line per example: {"id", <the task's OUTPUT field>,
"teacher"}. Metrics compare a student's output to it (the story task's similarity part), and
`smolopt teach` writes it. It is read fresh by each process, so a teach run is seen by the next
eval or optimize.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from smolopt.jsonl import checked_rows
from smolopt.tasks import read_text

FILENAME = "references.jsonl"


def read_references(folder: Path, field: str) -> dict[str, dict]:
    """id → row of the folder's references file ({} when it has none); a bad line is a one-line error."""
    path = folder / FILENAME
    if not path.is_file():
        return {}

    def problem(row: Any) -> str | None:
        if isinstance(row, dict) and isinstance(row.get("id"), str) and isinstance(row.get(field), str):
            return None
        return f"expected an object with string fields 'id' and '{field}'"

    rows = checked_rows(read_text(path), path, problem)
    return {row["id"]: row for row in rows}


def write_references(folder: Path, rows: dict[str, dict]) -> Path:
    """Replace the references file atomically: a teach run cut off keeps the last complete file."""
    path = folder / FILENAME
    partial = path.with_suffix(".jsonl.partial")
    partial.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows.values()), encoding="utf-8")
    partial.replace(path)
    return path
