"""JSON Lines files: the append-only logs a run keeps (calls, proposals, accepted candidates).

Appending one line per event means a run killed mid-way keeps every event before the kill, and a
resumed run adds to the same file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from smolopt.errors import SmoloptError


def append_jsonl(path: Path, row: Any) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[Any]:
    """Every row of the file, or [] when it does not exist yet."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def checked_rows(text: str, path: Path, problem: Callable[[Any], str | None], error: type[Exception] = SmoloptError) -> list[Any]:
    """The rows of a JSONL file people may edit by hand (a task's data, its references, a run's
    ratings), blank lines skipped; a line that is not JSON, or in which `problem` finds one (its
    words: "missing field 'id'"), raises `error` naming the file and line."""
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise error(f"{path}:{number}: not valid JSON ({err.msg})") from None
        if (found := problem(row)) is not None:
            raise error(f"{path}:{number}: {found}")
        rows.append(row)
    return rows
