"""JSON Lines files: the append-only logs a run keeps (calls, proposals, accepted candidates).

Appending one line per event means a run killed mid-way keeps every event before the kill, and a
resumed run adds to the same file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def append_jsonl(path: Path, row: Any) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[Any]:
    """Every row of the file, or [] when it does not exist yet."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
