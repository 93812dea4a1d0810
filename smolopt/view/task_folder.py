"""What the view needs from a run's task folder: each example's inputs, the label set, references.

results.json keeps ids, answers and scores, not the inputs, so the view looks them up in the task
folder config.json names. It reads the folder as data and never runs its task.py: the constants it
needs (INPUTS, LABELS, OUTPUT) are read as literals from the source, so viewing a run executes no
user code and does not load a metric's models (the story task's similarity part pulls torch).
A folder that is gone or unreadable leaves the inputs out, with the reason, never the page.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smolopt.errors import SmoloptError
from smolopt.references import read_references

META = ("id", "split")


def task_constants(task_py: Path) -> dict[str, Any]:
    """Module-level literal assignments of task.py (INPUTS = ("text",) …); names set otherwise are absent."""
    constants: dict[str, Any] = {}
    for node in ast.parse(task_py.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                constants[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return constants


@dataclass
class TaskFolder:
    """A task folder as data: rows by id, input field names, labels (None: free text), output field."""

    path: Path | None
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    inputs: tuple[str, ...] | None = None
    labels: tuple[str, ...] | None = None
    output: str | None = None
    problem: str | None = None  # why rows are missing, shown where the inputs would be

    def inputs_of(self, example_id: str) -> dict[str, Any]:
        """The example's input fields (every field but id and split when task.py names none)."""
        row = self.rows.get(example_id, {})
        names = self.inputs or tuple(k for k in row if k not in META)
        return {name: row[name] for name in names if name in row}

    def references(self) -> dict[str, dict]:
        """id → reference row (tasks/<task>/references.jsonl), {} when the task has none."""
        if self.path is None or self.output is None:
            return {}
        return read_references(self.path, self.output)


def read_task_folder(path: str | None) -> TaskFolder:
    if not path:
        return TaskFolder(None, problem="config.json names no task folder")
    folder = Path(path)
    try:
        constants = task_constants(folder / "task.py")
        rows = {}
        for number, line in enumerate((folder / "data.jsonl").read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                row = json.loads(line)
                if not isinstance(row, dict) or "id" not in row:
                    raise SmoloptError(f"{folder / 'data.jsonl'}:{number}: expected an object with an 'id'")
                rows[str(row["id"])] = row
    except (OSError, SyntaxError, UnicodeDecodeError, json.JSONDecodeError, SmoloptError) as err:
        return TaskFolder(folder, problem=f"task folder {folder} unreadable: {err}")
    labels = constants.get("LABELS")
    return TaskFolder(
        folder,
        rows=rows,
        inputs=tuple(constants["INPUTS"]) if isinstance(constants.get("INPUTS"), tuple | list) else None,
        labels=tuple(labels) if isinstance(labels, tuple | list) and labels else None,
        output=constants.get("OUTPUT") if isinstance(constants.get("OUTPUT"), str) else None,
    )
