"""The Task protocol and the loader for `tasks/<name>/` folders.

A task is a folder a user can add without touching the package:

    tasks/<name>/
        data.jsonl   one example per line: "id", "split" (train | val | test), the input fields
                     and the gold fields
        rules.txt    optional: valid rules, one per line, that capacity probes add to the prompt
        task.py      a small module with:
            INPUTS: tuple[str, ...]       fields of a row handed to the program
            GOLD: tuple[str, ...]         fields of a row the metric needs (validated on load)
            program() -> dspy.Module      a fresh, unoptimized program
            metric(example, prediction) -> dspy.Prediction(score=float in [0, 1], feedback=str)
                                          and optionally components={part: score}, the parts of a
                                          composite score (`smolopt.metrics.parts.combine`), which
                                          reports show before and after. A metric that asks a judge
                                          model takes it as a third argument, `judge`
                                          (a `smolopt.metrics.judge.Judge`, possibly absent):
                                          runs open the judge and hand it over
            demo(example, predictor) -> dict | None
                                          optional: the demo a training example gives the named
                                          predictor (its input and output fields). Without it,
                                          a one-predictor program gets {inputs..., output: gold}.

The rest is read from the program's signature, so it is said once:

    output      the prediction field reports show: the last output field of the last predictor
    labels      the label set of a classification task: that field's Literal or Enum, if it has one
    gold field  the row field holding the output's gold value: the GOLD field named like the
                output, else the only GOLD field (none when GOLD is empty)

and task.py may override each, checked against what the signature says (a mismatch is a
one-line error naming task.py):

            OUTPUT: str                   a field the program's module returns itself, not a
                                          predictor's (long_story's assembled "story")
            LABELS: tuple[str, ...]       the label order reports use; the same labels as the
                                          output field's Literal
            GOLD_FIELD: str               one of GOLD, when GOLD has several and none is named
                                          like the output

The metric only judges answers it could read: parse failures are scored 0 by the evaluation core
(`smolopt.evaluation`), with feedback that shows what the model said, before the metric is called.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import dspy

import smolopt.adapters  # noqa: F401  (registers the output-field options task signatures may use)
from smolopt.adapters.parsing import label_spec
from smolopt.errors import SmoloptError
from smolopt.jsonl import checked_rows
from smolopt.metrics.judge import Judge

Metric = Callable[[dspy.Example, dspy.Prediction], dspy.Prediction]

SPLITS = ("train", "val", "test")
DEFAULT_TASKS_DIR = Path("tasks")
# What a judged metric gets until a run opens a judge (`Task.with_judge`).
NO_JUDGE = Judge.absent("no judge was opened for this run")


@dataclass
class Task:
    """A loaded task: its splits as dspy.Examples, its program factory and metric."""

    name: str
    path: Path
    description: str
    inputs: tuple[str, ...]
    output: str
    gold_field: str | None
    program: Callable[[], dspy.Module]
    metric: Metric  # what the evaluation core calls; a judged metric has its judge bound
    splits: dict[str, list[dspy.Example]]
    labels: tuple[str, ...] | None = None
    rules: list[str] = field(default_factory=list)
    demo: Callable[[dspy.Example, str], dict | None] | None = None
    judged_metric: Callable[..., dspy.Prediction] | None = None  # the task file's metric, when it takes a judge

    @property
    def uses_judge(self) -> bool:
        return self.judged_metric is not None

    def with_judge(self, judge: Judge) -> Task:
        """This task scoring with `judge` (itself when its metric asks none)."""
        if self.judged_metric is None:
            return self
        return replace(self, metric=functools.partial(self.judged_metric, judge=judge))

    def split(self, name: str) -> list[dspy.Example]:
        if name not in self.splits:
            raise SmoloptError(f"task '{self.name}': no split '{name}' (have: {', '.join(self.splits)})")
        return self.splits[name]

    def sizes(self) -> dict[str, int]:
        return {name: len(examples) for name, examples in self.splits.items()}

    def gold_label(self, example: dspy.Example) -> str | None:
        """The gold value of the output field, as the label distribution counts it."""
        value = None if self.gold_field is None else example.get(self.gold_field)
        return None if value is None else str(value)

    def demo_for(self, example: dspy.Example, predictor: str) -> dict | None:
        """The demo a gold example gives a predictor (few-shot injection builds demos from these)."""
        if self.demo is not None:
            return self.demo(example, predictor)
        if self.gold_field is None:
            return None  # no gold output to show
        return {**example.inputs().toDict(), self.output: example.get(self.gold_field)}

    def label_counts(self, split: str) -> Counter:
        return Counter(self.gold_label(example) for example in self.split(split))


def tasks_dir() -> Path:
    return Path(os.environ.get("SMOLOPT_TASKS") or DEFAULT_TASKS_DIR)


def available_tasks(root: Path | None = None) -> list[str]:
    root = root or tasks_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "task.py").is_file())


@dataclass(frozen=True)
class TaskFolder:
    """One folder under the tasks directory: its task, or in one line why it is none."""

    name: str
    task: Task | None
    problem: str = ""


def task_folders(root: Path | None = None) -> list[TaskFolder]:
    """Every folder under the tasks directory, loaded: a broken one says why and hides no other,
    and one without task.py is listed as such (hidden folders such as .git are not tasks)."""
    root = root or tasks_dir()
    if not root.is_dir():
        return []
    folders = []
    for path in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))):
        if not (path / "task.py").is_file():
            folders.append(TaskFolder(path.name, None, "no task.py"))
            continue
        try:
            folders.append(TaskFolder(path.name, load_task(str(path))))
        except Exception as err:  # a user's task file may fail in a way the loader does not name yet: still one row
            folders.append(TaskFolder(path.name, None, str(err) if isinstance(err, SmoloptError) else f"{type(err).__name__}: {err}"))
    return folders


def _load_module(path: Path):
    spec = importlib.util.spec_from_file_location(f"smolopt_task_{path.parent.name}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SystemExit as err:  # sys.exit() in a user's task file ends nothing but its loading
        raise SmoloptError(f"{path}: called sys.exit({err.code}) while loading") from None
    except Exception as err:  # a user's task file: report it in one line, whatever it raised
        raise SmoloptError(f"{path}: failed to load: {type(err).__name__}: {err}") from None
    for name in ("INPUTS", "GOLD", "program", "metric"):
        if not hasattr(module, name):
            raise SmoloptError(f"{path}: missing '{name}' (see the Task protocol in smolopt/tasks.py)")
    if hasattr(module, "ANSWER"):
        raise SmoloptError(f"{path}: 'ANSWER' is no longer read; drop it (the gold field is the GOLD field named like the output, "
                           "or the only one; GOLD_FIELD names it otherwise)")
    return module


def answer_field(program: dspy.Module) -> str:
    """The program's answer as its signature says it (DSPy's convention): the last output field of the last predictor."""
    predictors = [predictor for _, predictor in program.named_predictors()]
    if not predictors:
        raise SmoloptError("the program has no dspy.Predict inside it to prompt")
    return list(predictors[-1].signature.output_fields)[-1]


def field_labels(program: dspy.Module, name: str) -> tuple[str, ...] | None:
    """The labels of the output field `name` when it is a Literal or Enum (None: free text, or a
    field no predictor writes); the last predictor that writes it decides."""
    fields = [p.signature.output_fields[name] for _, p in program.named_predictors() if name in p.signature.output_fields]
    spec = label_spec(fields[-1].annotation) if fields else None
    return spec.labels if spec else None


def _task_facts(path: Path, module: ModuleType) -> tuple[str, tuple[str, ...] | None, str | None]:
    """(output, labels, gold field) of a task file: read from its program's signature, with the
    file's OUTPUT, LABELS and GOLD_FIELD as checked overrides."""
    try:
        program = module.program()
        output = getattr(module, "OUTPUT", None) or answer_field(program)
    except SmoloptError as err:
        raise SmoloptError(f"{path}: program(): {err}") from None
    except Exception as err:  # a user's task file: report it in one line, whatever it raised
        raise SmoloptError(f"{path}: program() failed: {type(err).__name__}: {err}") from None
    labels = field_labels(program, output)
    if hasattr(module, "LABELS"):
        declared = tuple(module.LABELS)
        if labels is not None and set(declared) != set(labels):
            raise SmoloptError(f"{path}: LABELS {declared} are not the labels of the output field '{output}' {labels}; "
                               "drop LABELS or make them agree")
        labels = declared or None
    gold = tuple(module.GOLD)
    if hasattr(module, "GOLD_FIELD"):
        if module.GOLD_FIELD not in gold:
            raise SmoloptError(f"{path}: GOLD_FIELD '{module.GOLD_FIELD}' is not one of GOLD {gold}")
        return output, labels, module.GOLD_FIELD
    if output in gold:
        return output, labels, output
    if len(gold) <= 1:
        return output, labels, gold[0] if gold else None
    raise SmoloptError(f"{path}: which of GOLD {gold} holds the gold '{output}'? Set GOLD_FIELD")


def _metric_judge(path: Path, metric: Callable) -> bool:
    """Whether a task file's metric takes the run's judge (a parameter named `judge`)."""
    try:
        return "judge" in inspect.signature(metric).parameters
    except (TypeError, ValueError) as err:
        raise SmoloptError(f"{path}: metric is not a function smolopt can call ({err})") from None


def read_text(path: Path) -> str:
    """A task file's text; a missing file or one that is not UTF-8 is a one-line error naming the line."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SmoloptError(f"{path}: not found") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise SmoloptError(f"{path}:{line}: not UTF-8 text (byte {err.start})") from None


def _read_rows(path: Path, required: tuple[str, ...], labels: tuple[str, ...] | None, gold_field: str | None) -> list[dict]:
    seen: set[str] = set()

    def problem(row: Any) -> str | None:
        if not isinstance(row, dict):
            return "expected a JSON object"
        for key in ("id", "split", *required):
            if key not in row or row[key] in (None, ""):
                return f"missing field '{key}'"
        if row["split"] not in SPLITS:
            return f"field 'split' is '{row['split']}', expected one of {', '.join(SPLITS)}"
        if labels and gold_field and row.get(gold_field) not in labels:
            return f"field '{gold_field}' is '{row.get(gold_field)}', expected one of {', '.join(labels)}"
        if row["id"] in seen:
            return f"duplicate id '{row['id']}'"
        seen.add(row["id"])
        return None

    rows = checked_rows(read_text(path), path, problem)
    if not rows:
        raise SmoloptError(f"{path}: no examples")
    return rows


def load_task(name: str, root: Path | None = None) -> Task:
    """Load `tasks/<name>/` (or a folder path), validating every data row."""
    folder = Path(name) if Path(name).is_dir() else (root or tasks_dir()) / name
    if not (folder / "task.py").is_file():
        known = ", ".join(available_tasks(root)) or "none"
        raise SmoloptError(f"no task '{name}' (looked for {folder}/task.py; known tasks: {known})")
    module = _load_module(folder / "task.py")
    inputs, gold = tuple(module.INPUTS), tuple(module.GOLD)
    output, labels, gold_field = _task_facts(folder / "task.py", module)
    takes_judge = _metric_judge(folder / "task.py", module.metric)
    rows = _read_rows(folder / "data.jsonl", inputs + gold, labels, gold_field)
    splits: dict[str, list[dspy.Example]] = {split: [] for split in SPLITS}
    for row in rows:
        example = dspy.Example(**{k: v for k, v in row.items() if k != "split"}).with_inputs(*inputs)
        splits[row["split"]].append(example)
    for split, examples in splits.items():
        if not examples:
            raise SmoloptError(f"{folder / 'data.jsonl'}: split '{split}' is empty")
    rules_path = folder / "rules.txt"
    rules = [line.strip() for line in read_text(rules_path).splitlines() if line.strip()] if rules_path.is_file() else []
    return Task(
        name=folder.name,
        path=folder,
        description=(module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else "",
        inputs=inputs,
        output=output,
        gold_field=gold_field,
        program=module.program,
        metric=functools.partial(module.metric, judge=NO_JUDGE) if takes_judge else module.metric,
        splits=splits,
        labels=labels,
        rules=rules,
        demo=getattr(module, "demo", None),
        judged_metric=module.metric if takes_judge else None,
    )


def as_task_metric(metric: Callable) -> Callable[[dspy.Example, dspy.Prediction], dspy.Prediction]:
    """A user's metric in the Task protocol's shape.

    It is called as metric(example, prediction), the first two arguments of DSPy's GEPA metric
    (gold, pred, trace, pred_name, pred_trace), and may return a number, a bool, or anything with
    `score` and (optionally) `feedback`, as dspy.Prediction or a dict.
    """
    def scored(example: dspy.Example, prediction: dspy.Prediction) -> dspy.Prediction:
        value = metric(example, prediction)
        if isinstance(value, (bool, int, float)):
            return dspy.Prediction(score=float(value), feedback="")
        get = value.get if isinstance(value, dict) else (lambda key, default=None: getattr(value, key, default))
        if get("score") is None:
            raise SmoloptError(f"the metric returned {type(value).__name__} without a score (return a number or score=..., feedback=...)")
        return dspy.Prediction(score=float(get("score")), feedback=str(get("feedback", "") or ""), components=dict(get("components") or {}))
    return scored


def task_from_program(
    program: dspy.Module,
    metric: Callable,
    trainset: list[dspy.Example],
    valset: list[dspy.Example] | None = None,
    testset: list[dspy.Example] | None = None,
    name: str = "program",
) -> Task:
    """A user's own program, examples and metric as a Task, so they run on the same core as a task folder.

    The answer is the program's `answer_field` (the examples hold the gold value under its name);
    a Literal or Enum there makes it a label task. Missing splits reuse the ones given (val is
    train, test is val), and callers say so.
    """
    if not trainset:
        raise SmoloptError("trainset is empty: give at least one dspy.Example")
    output = answer_field(program)
    inputs = tuple(trainset[0].inputs().keys())
    splits = {"train": list(trainset), "val": list(valset or trainset), "test": list(testset or valset or trainset)}
    return Task(
        name=name,
        path=Path("."),
        description=f"{type(program).__name__} with a user metric",
        inputs=inputs,
        output=output,
        gold_field=output,
        program=program.deepcopy,
        metric=as_task_metric(metric),
        splits=splits,
        labels=field_labels(program, output),
    )
