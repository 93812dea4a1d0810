"""What the view needs from a run's task: each example's inputs, the label set, the references.

results.json keeps ids, answers and scores, not the inputs, so the view loads the task folder
config.json names, with the task loader every command uses (a few milliseconds: task files import
their metrics' heavy parts lazily). A folder that is gone or does not load leaves the inputs out,
with the reason on the page, and the run still shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from smolopt.errors import SmoloptError
from smolopt.references import read_references
from smolopt.tasks import Task, load_task


@dataclass
class TaskFolder:
    """A run's task as loaded (None with the reason when it could not be)."""

    task: Task | None = None
    problem: str | None = None  # why the inputs are missing, shown where they would be
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → input fields

    @property
    def labels(self) -> tuple[str, ...] | None:
        return self.task.labels if self.task else None

    def inputs_of(self, example_id: str) -> dict[str, Any]:
        return self.rows.get(example_id, {})

    def references(self) -> dict[str, dict]:
        """id → reference row (tasks/<task>/references.jsonl), {} when the task has none."""
        return read_references(self.task.path, self.task.output) if self.task else {}

    def reference_text(self, row: dict) -> str:
        return str(row[self.task.output]) if self.task else ""


def read_task_folder(path: Any) -> TaskFolder:
    """The task at `path` (config.json's task_path); never raises."""
    if not isinstance(path, str) or not path:
        return TaskFolder(problem="config.json names no task folder")
    try:
        task = load_task(path)
    except SmoloptError as err:
        return TaskFolder(problem=f"the task did not load: {err}")
    rows = {str(example.get("id")): dict(example.inputs().toDict()) for examples in task.splits.values() for example in examples}
    return TaskFolder(task, rows=rows)
