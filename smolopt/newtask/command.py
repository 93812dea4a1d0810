"""`smolopt new NAME --from FILE`: a user's table becomes tasks/NAME/ (data.jsonl and task.py).

    read the table → check the chosen columns' rows → split → write task.py and data.jsonl into a
    scratch folder → load it with the task loader (what `smolopt eval NAME` will do) → check every
    row's prompt fits the student's context → copy the folder into place

Everything that can be wrong with the file is found before the folder is made, so a refused file
leaves nothing behind. Ids follow the file's order (NAME-0001 is its first data row), so a row a
report names is found in the user's spreadsheet at once; with the same file and seed the ids and
the splits are the same.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from smolopt.errors import SmoloptError
from smolopt.newtask.fields import field_names
from smolopt.newtask.rows import Record, check_labels, lines_text, records
from smolopt.newtask.split import assign, target_sizes
from smolopt.newtask.table import Table, read_table
from smolopt.newtask.template import METRICS, TaskFile, default_instruction, max_tokens_for, task_source
from smolopt.registry import ModelSpec, load_registry
from smolopt.tasks import Task, load_task
from smolopt.tasks import tasks_dir as default_tasks_dir

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
DEFAULT_METRIC = "f1"  # free text: partial credit for a partly right answer, and no extra to install


@dataclass(frozen=True)
class NewTask:
    """What `smolopt new` made: the loaded task and the facts its printout states."""

    task: Task
    ref: str  # how commands name it: NAME when ./tasks (or $SMOLOPT_TASKS) holds it, else its folder
    source: Path
    inputs: tuple[str, ...]  # the input columns
    inputs_chosen: bool  # named with --input (else: every column but the answer's)
    fields: dict[str, str]  # {column: field} for the columns used
    target: str  # the label or output column
    metric: str
    seed: int
    student: str
    context_length: int
    longest_prompt: int  # estimated tokens of the longest zero-shot prompt
    prompt_room: int  # tokens a prompt may take beside the answer
    replaced: bool  # --force replaced a folder that was there


def new_task(name: str, path: str | Path, *, inputs: Sequence[str] | None = None, label: str | None = None,
             output: str | None = None, instruction: str | None = None, metric: str | None = None, seed: int = 0,
             tasks_dir: str | Path | None = None, force: bool = False, registry: str | Path | None = None) -> Task:
    """Make tasks/NAME/ from a CSV, TSV or JSONL file and return it loaded, as `smolopt new` does:

        task = smolopt.new_task("helpdesk", "helpdesk.csv", inputs=["Customer message"], label="category")
        optimizer = smolopt.Optimizer(budget="light")
        better, result = optimizer.run(task)      # or compile(task.program(), trainset=task.split("train"), ...)

    `label` makes a label task, `output` a free-text task scored by `metric` (exact, f1 or
    similarity; default f1). Without `inputs`, every other column is an input.
    """
    return make_task(name, path, inputs=inputs, label=label, output=output, instruction=instruction, metric=metric,
                     seed=seed, tasks_dir=tasks_dir, force=force, registry=registry).task


def make_task(name: str, path: str | Path, *, inputs: Sequence[str] | None = None, label: str | None = None,
              output: str | None = None, instruction: str | None = None, metric: str | None = None, seed: int = 0,
              tasks_dir: str | Path | None = None, force: bool = False, registry: str | Path | None = None) -> NewTask:
    """`new_task` with everything the command's printout says about what it chose."""
    target, metric = _answer_column(label, output, metric)
    folder = _task_folder(name, Path(tasks_dir) if tasks_dir is not None else default_tasks_dir(), force)
    table = read_table(Path(path))
    columns = tuple(inputs) if inputs else tuple(column for column in table.columns if column != target)
    if not columns:
        raise SmoloptError(f"{table.path}: no column is left for the input (its columns: {', '.join(table.columns)})")
    found = records(table, columns, target)
    labels = tuple(sorted(check_labels(table, target, found))) if label is not None else None
    if labels is None:
        _check_free_text(table, found, metric)
    fields = field_names([*columns, target])
    spec = TaskFile(source=table.path.name, inputs=tuple(fields[column] for column in columns), output=fields[target], labels=labels,
                    metric=metric, instruction=instruction or default_instruction([fields[c] for c in columns], fields[target], labels),
                    max_tokens=max_tokens_for([record.target for record in found], labels))
    splits = assign([record.target if labels else "" for record in found], target_sizes(len(found)), seed)
    student = load_registry(registry).get(None)  # the registry's default student: the model `smolopt eval NAME` asks
    replaced = folder.exists()
    longest, room = _write(folder, spec, _data_rows(name, spec, found, splits), student, table, [record.line for record in found])
    return NewTask(task=load_task(str(folder)), ref=_ref(folder, name), source=table.path, inputs=columns, inputs_chosen=bool(inputs),
                   fields=fields, target=target, metric=metric, seed=seed, student=student.name,
                   context_length=student.context_length, longest_prompt=longest, prompt_room=room, replaced=replaced)


def _task_folder(name: str, root: Path, force: bool) -> Path:
    """root/NAME, refused when NAME is not a plain folder name or the folder is there and not to be replaced."""
    if not NAME.fullmatch(name):
        raise SmoloptError(f"task name '{name}': use letters, digits, '_', '-' or '.' (it names the folder and the ids)")
    folder = root / name
    if folder.exists() and not (force and folder.is_dir()):
        raise SmoloptError(f"{folder} already exists; --force replaces it (everything in it)" if folder.is_dir()
                           else f"{folder} exists and is not a folder; move it away")
    return folder


def _data_rows(name: str, spec: TaskFile, found: list[Record], splits: list[str]) -> list[dict[str, str]]:
    """data.jsonl's rows: ids in the file's order (NAME-0001 is its first data row), the split, the fields."""
    width = max(4, len(str(len(found))))
    return [{"id": f"{name}-{number:0{width}d}", "split": split, **dict(zip(spec.inputs, record.inputs)), spec.output: record.target}
            for number, (record, split) in enumerate(zip(found, splits), start=1)]


def _write(folder: Path, spec: TaskFile, rows: list[dict[str, str]], student: ModelSpec, table: Table, lines: list[int]) -> tuple[int, int]:
    """Write the task into a scratch folder, load it as `smolopt eval` will and check its prompts fit
    the student, then put it in place (replacing what --force allows); (longest prompt, room)."""
    with tempfile.TemporaryDirectory(prefix="smolopt-new-") as scratch:
        staged = Path(scratch) / folder.name
        staged.mkdir()
        (staged / "task.py").write_text(task_source(spec), encoding="utf-8")
        (staged / "data.jsonl").write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
        fit = _check_context(table, load_task(str(staged)), student, {row["id"]: line for row, line in zip(rows, lines)})
        if folder.exists():
            shutil.rmtree(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(staged, folder)
    return fit


def _answer_column(label: str | None, output: str | None, metric: str | None) -> tuple[str, str]:
    """(the answer's column, the metric): --label with exact match, or --output with the metric asked."""
    if (label is None) == (output is None):
        raise SmoloptError("name the answer's column with --label COL (a label task) or --output COL (free text), one of them")
    if metric is not None and metric not in METRICS:
        raise SmoloptError(f"--metric must be one of {', '.join(METRICS)}, not '{metric}'")
    if label is not None:
        if metric not in (None, "exact"):
            raise SmoloptError(f"--metric {metric} is for free text (--output); a label task scores by exact match")
        return label, "exact"
    return output, metric or DEFAULT_METRIC


def _check_free_text(table: Table, found: list[Record], metric: str) -> None:
    if len(found) < 3:
        raise SmoloptError(f"{table.path}: {len(found)} rows; a task needs 3 or more, one for each of train, val and test")
    if metric == "similarity":
        from smolopt.metrics.similarity import unavailable

        if why := unavailable():
            raise SmoloptError(f"--metric similarity needs sentence embeddings: {why}")


def _check_context(table: Table, task: Task, spec: ModelSpec, lines: dict[str, int]) -> tuple[int, int]:
    """(the longest prompt, the room a prompt has) in tokens for the student `spec`, asked zero-shot
    the way `smolopt eval` asks; rows whose prompt would not fit are an error naming their lines."""
    from smolopt.adapters import RawTextAdapter
    from smolopt.prompt_size import CHARS_PER_TOKEN, answer_tokens, estimate_prompt_tokens, prompt_room

    program, adapter = task.program(), RawTextAdapter()
    room = prompt_room(spec, program)
    sizes = {example.id: estimate_prompt_tokens(program, adapter, [example]) for split in task.splits.values() for example in split}
    over = sorted(lines[example_id] for example_id, size in sizes.items() if size > room)
    if over:
        raise SmoloptError(f"{table.path}: {len(over)} {'row is' if len(over) == 1 else 'rows are'} too long for {spec.name}'s context "
                           f"({lines_text(over)}): the longest prompt comes to about {max(sizes.values())} tokens where {room} fit "
                           f"({spec.context_length} less {answer_tokens(spec, program)} for the answer; estimated at "
                           f"{CHARS_PER_TOKEN} characters a token); shorten them or remove them")
    return max(sizes.values()), room


def _ref(folder: Path, name: str) -> str:
    """How `smolopt eval` and `optimize` will find the folder: by its name when the task loader's
    default place holds it (and no folder of that name in the working directory comes first),
    else by its path."""
    here = folder.resolve()
    if (default_tasks_dir() / name).resolve() == here and (not Path(name).is_dir() or Path(name).resolve() == here):
        return name
    try:
        return str(here.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(here)
