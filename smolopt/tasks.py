"""The Task protocol and the loader for `tasks/<name>/` folders.

A task is a folder a user can add without touching the package:

    tasks/<name>/
        data.jsonl   one example per line: "id", "split" (train | val | test), the input fields
                     and the gold fields
        rules.txt    optional: valid rules, one per line, that capacity probes add to the prompt
        task.py      a small module with:
            INPUTS: tuple[str, ...]       fields of a row handed to the program
            GOLD: tuple[str, ...]         fields of a row the metric needs (validated on load)
            LABELS: tuple[str, ...]       optional: the label set of a classification task
            OUTPUT: str                   the prediction field shown in reports (and counted
                                          for the label distribution when LABELS is set)
            ANSWER: str                   the row field holding OUTPUT's gold value
            program() -> dspy.Module      a fresh, unoptimized program
            metric(example, prediction) -> dspy.Prediction(score=float in [0, 1], feedback=str)
                                          and optionally components={part: score}, the parts of a
                                          composite score (`smolopt.metrics.parts.combine`), which
                                          reports show before and after
            USES_JUDGE: bool              optional: the metric asks a judge model
                                          (`smolopt.metrics.judge.current()`); runs open one
            demo(example, predictor) -> dict | None
                                          optional: the demo a training example gives the named
                                          predictor (its input and output fields). Without it,
                                          a one-predictor program gets {inputs..., OUTPUT: ANSWER}.

The metric only judges answers it could read: parse failures are scored 0 by the evaluation core
(`smolopt.evaluation`), with feedback that shows what the model said, before the metric is called.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dspy

import smolopt.adapters  # noqa: F401  (registers the output-field options task signatures may use)
from smolopt.adapters.parsing import label_spec
from smolopt.errors import SmoloptError

SPLITS = ("train", "val", "test")
DEFAULT_TASKS_DIR = Path("tasks")


@dataclass
class Task:
    """A loaded task: its splits as dspy.Examples, its program factory and metric."""

    name: str
    path: Path
    description: str
    inputs: tuple[str, ...]
    output: str
    answer: str
    program: Callable[[], dspy.Module]
    metric: Callable[[dspy.Example, dspy.Prediction], dspy.Prediction]
    splits: dict[str, list[dspy.Example]]
    labels: tuple[str, ...] | None = None
    rules: list[str] = field(default_factory=list)
    demo: Callable[[dspy.Example, str], dict | None] | None = None
    uses_judge: bool = False

    def split(self, name: str) -> list[dspy.Example]:
        if name not in self.splits:
            raise SmoloptError(f"task '{self.name}': no split '{name}' (have: {', '.join(self.splits)})")
        return self.splits[name]

    def sizes(self) -> dict[str, int]:
        return {name: len(examples) for name, examples in self.splits.items()}

    def gold_label(self, example: dspy.Example) -> str | None:
        """The gold value of the output field, as the label distribution counts it."""
        value = example.get(self.answer)
        return None if value is None else str(value)

    def demo_for(self, example: dspy.Example, predictor: str) -> dict | None:
        """The demo a gold example gives a predictor (few-shot injection builds demos from these)."""
        if self.demo is not None:
            return self.demo(example, predictor)
        return {**example.inputs().toDict(), self.output: example.get(self.answer)}

    def label_counts(self, split: str) -> Counter:
        return Counter(self.gold_label(example) for example in self.split(split))


def tasks_dir() -> Path:
    return Path(os.environ.get("SMOLOPT_TASKS") or DEFAULT_TASKS_DIR)


def available_tasks(root: Path | None = None) -> list[str]:
    root = root or tasks_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "task.py").is_file())


def _load_module(path: Path):
    spec = importlib.util.spec_from_file_location(f"smolopt_task_{path.parent.name}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SystemExit as err:  # sys.exit() in a user's task file ends nothing but its loading
        raise SmoloptError(f"{path}: called sys.exit({err.code}) while loading") from None
    except Exception as err:  # a user's task file: report it in one line, whatever it raised
        raise SmoloptError(f"{path}: failed to load: {type(err).__name__}: {err}") from None
    for name in ("INPUTS", "GOLD", "OUTPUT", "ANSWER", "program", "metric"):
        if not hasattr(module, name):
            raise SmoloptError(f"{path}: missing '{name}' (see the Task protocol in smolopt/tasks.py)")
    return module


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


def _read_rows(path: Path, required: tuple[str, ...], labels: tuple[str, ...] | None, answer: str) -> list[dict]:
    rows, seen = [], set()
    lines = read_text(path).splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise SmoloptError(f"{path}:{number}: not valid JSON ({err.msg})") from None
        if not isinstance(row, dict):
            raise SmoloptError(f"{path}:{number}: expected a JSON object")
        for key in ("id", "split", *required):
            if key not in row or row[key] in (None, ""):
                raise SmoloptError(f"{path}:{number}: missing field '{key}'")
        if row["split"] not in SPLITS:
            raise SmoloptError(f"{path}:{number}: field 'split' is '{row['split']}', expected one of {', '.join(SPLITS)}")
        if labels and row.get(answer) not in labels:
            raise SmoloptError(f"{path}:{number}: field '{answer}' is '{row.get(answer)}', expected one of {', '.join(labels)}")
        if row["id"] in seen:
            raise SmoloptError(f"{path}:{number}: duplicate id '{row['id']}'")
        seen.add(row["id"])
        rows.append(row)
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
    labels = tuple(getattr(module, "LABELS", ()) or ()) or None
    rows = _read_rows(folder / "data.jsonl", inputs + gold, labels, module.ANSWER)
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
        output=module.OUTPUT,
        answer=module.ANSWER,
        program=module.program,
        metric=module.metric,
        splits=splits,
        labels=labels,
        rules=rules,
        demo=getattr(module, "demo", None),
        uses_judge=bool(getattr(module, "USES_JUDGE", False)),
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

    The answer is the last output field of the program's last predictor (DSPy's convention: the
    examples hold the gold value under that name); a Literal or Enum there makes it a label task.
    Missing splits reuse the ones given (val is train, test is val), and callers say so.
    """
    if not trainset:
        raise SmoloptError("trainset is empty: give at least one dspy.Example")
    predictors = [predictor for _, predictor in program.named_predictors()]
    if not predictors:
        raise SmoloptError("the program has no dspy.Predict inside it to prompt")
    output, field_info = list(predictors[-1].signature.output_fields.items())[-1]
    spec = label_spec(field_info.annotation)
    inputs = tuple(trainset[0].inputs().keys())
    splits = {"train": list(trainset), "val": list(valset or trainset), "test": list(testset or valset or trainset)}
    return Task(
        name=name,
        path=Path("."),
        description=f"{type(program).__name__} with a user metric",
        inputs=inputs,
        output=output,
        answer=output,
        program=program.deepcopy,
        metric=as_task_metric(metric),
        splits=splits,
        labels=spec.labels if spec else None,
    )
