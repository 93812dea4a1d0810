"""`teach`: a teacher model writes a task's reference outputs once, into the task folder.

Metrics that compare with a reference (the story task's similarity part) and few-shot demos read
them. The teacher runs the task's own program through the same raw path as any student. A story
already written by this teacher is kept, so an interrupted teach continues where it stopped, and
the file is rewritten after each one, so nothing finished is lost. `run_teach` is `smolopt teach`:
the same in a run directory, whose calls.jsonl shows what the teacher was asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dspy

from smolopt.errors import ExampleFailure, found_in
from smolopt.evaluation import task_adapter
from smolopt.references import FILENAME, read_references, write_references
from smolopt.registry import load_registry
from smolopt.runs import Run
from smolopt.scaffold import run_scaffold, task_config
from smolopt.tasks import SPLITS, Task, load_task


@dataclass
class Taught:
    """What a teach run did: references written now, kept from before (same teacher), and failed."""

    written: int = 0
    kept: int = 0
    failed: list[str] | None = None

    @property
    def total(self) -> int:
        return self.written + self.kept + len(self.failed or [])


def teach(task: Task, lm: dspy.LM, teacher: str, progress: Callable[[int, int], None] | None = None) -> Taught:
    """Write a reference for every example of every split that this teacher has not written yet."""
    references = read_references(task.path, task.output)
    examples = [example for split in SPLITS for example in task.split(split)]
    program, adapter, taught = task.program(), task_adapter(task), Taught(failed=[])
    for index, example in enumerate(examples, start=1):
        if references.get(example.id, {}).get("teacher") == teacher:
            taught.kept += 1
        else:
            text = _write(task, program, example, lm, adapter)
            if text:
                references[example.id] = {"id": example.id, task.output: text, "teacher": teacher}
                write_references(task.path, references)
                taught.written += 1
            else:
                taught.failed.append(example.id)
        if progress:
            progress(index, len(examples))
    return taught


def _write(task: Task, program: dspy.Module, example: dspy.Example, lm: dspy.LM, adapter: dspy.Adapter) -> str:
    """The teacher's output for one example ("" when it gave none it could be read, or the prompt did not fit)."""
    try:
        with dspy.context(lm=lm, adapter=adapter):
            prediction = program(**example.inputs())
    except Exception as err:  # noqa: BLE001 - DSPy wraps the client's errors; some belong to this example only
        if found_in(err, ExampleFailure) is None:
            raise
        return ""
    return str(prediction.get(task.output) or "").strip()


def run_teach(
    task_ref: str, *, model: str, registry: str | Path | None = None, progress: Callable[[int, int], None] | None = None
) -> tuple[Taught, Task, Run]:
    """`smolopt teach`: the registry model `model` writes the task's references, its calls logged in a run directory."""
    registry_ = load_registry(registry)
    task = load_task(task_ref)
    spec = registry_.get(model)
    again = f"smolopt teach {task_ref} --model {spec.name} (stories this teacher wrote are kept)"
    with run_scaffold("teach", {**task_config(task), "model": spec.public()}, registry_, label=task.name,
                      kept=lambda _: f"the references written so far are in {task.path / FILENAME}; calls", again=again) as scaffold:
        taught = teach(task, scaffold.models.lm(spec.name), spec.name, progress)
    return taught, task, scaffold.run
