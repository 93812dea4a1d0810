"""A shipped program as a callable: `smolopt.load_program("runs/<id>/program.json")`.

    with smolopt.load_program("runs/<id>/program.json") as program:
        print(program(text="A warm, funny film.").sentiment)

program.json records the task, each predictor's format and the adapter its weights were tuned
with; the config.json beside it (every run writes one) records the registry entry that served it.
The program is asked exactly as `smolopt eval --program` asks it: the same task program with the
saved state (smolopt.program_io), RawTextAdapter calibrated on the task's train inputs
(smolopt.evaluation.core.task_adapter), and the model and adapter as one ModelChoice.

A call returns the dspy.Prediction the program returns, as calling the optimized DSPy module
would: `.sentiment` reads the answer, `.toDict()` gives every field, and the object drops into
DSPy code that expects a module's output. A reply the model's parser could not read leaves the
output field None, as in an evaluation.

The model server starts on entering the `with` block (or on the first call) and stops on leaving
it or at `close()`. An embedded server dies with the thread that started it (its parent-death
signal), so a program shared by threads is entered on the thread that outlives them.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import dspy

from smolopt import program_io
from smolopt.adapters import RawTextAdapter
from smolopt.backends import Models
from smolopt.backends.engine import SmoloptLM
from smolopt.candidate import formats_of, seed_candidate
from smolopt.errors import SmoloptError
from smolopt.evaluation.core import task_adapter
from smolopt.model_choice import ModelChoice
from smolopt.registry import Registry, load_registry
from smolopt.scaffold import config_task
from smolopt.tasks import Task, load_task
from smolopt.usage import Usage

PROGRAM_FILE = "program.json"
CONFIG_FILE = "config.json"


def program_file(path: str | Path) -> Path:
    """The program.json a path names (a run folder names the one inside it)."""
    path = Path(path).expanduser()
    path = path / PROGRAM_FILE if path.is_dir() else path
    if not path.is_file():
        raise SmoloptError(f"{path}: program file not found")
    return path


def run_config(path: Path) -> dict[str, Any]:
    """The config.json of the run that saved `path`, or {} for a program.json copied out of its run."""
    try:
        config = json.loads((path.parent / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return config if isinstance(config, dict) else {}


def saved_task(path: Path, config: dict[str, Any]) -> Task:
    """The task a saved program belongs to: its run's task folder, else the task program.json names."""
    recorded = config_task(config) if config.get("task") else None
    if recorded and (Path(recorded) / "task.py").is_file():
        return load_task(recorded)
    try:
        name = (json.loads(path.read_text(encoding="utf-8")).get(program_io.SMOLOPT_KEY) or {}).get("task")
    except (ValueError, AttributeError) as err:
        raise SmoloptError(f"{path}: not a saved program ({type(err).__name__}: {err})") from None
    if not name:
        raise SmoloptError(f"{path}: records no task (a program optimized from Python): load it into your own module with module.load(path)")
    return load_task(name)


def loadable(task: Task) -> bool:
    """Whether a program saved for `task` can be loaded by its task folder (not one made from Python by smolopt.Optimizer)."""
    return task.path.name == task.name and (task.path / "task.py").is_file()


def recorded_entry(config: dict[str, Any]) -> str | None:
    """The registry entry the run served the program with (None: the registry's student)."""
    model = config.get("model")
    return model.get("entry") if isinstance(model, dict) else None


def program_usage(path: Path, task: Task, program: dspy.Module, model: str, adapter: Path | None) -> Usage:
    """What a user needs to know of a saved program (and what `smolopt serve --program` describes at GET /)."""
    return Usage(path, task.name, task.inputs, (task.output,), model, adapter, tuple(formats_of(seed_candidate(program)).values()), task.labels)


def saved_usage(path: str | Path) -> Usage:
    """The Usage of a program.json as its run saved it (no registry is read and no model starts)."""
    path = program_file(path)
    config = run_config(path)
    task = saved_task(path, config)
    program = program_io.load_program(task, path)
    return program_usage(path, task, program, recorded_entry(config) or "the registry's student", program_io.saved_adapter(path))


class ServedProgram:
    """A saved program with its model: call it with the task's input fields, get its dspy.Prediction."""

    def __init__(self, task: Task, program: dspy.Module, registry: Registry, choice: ModelChoice, usage: Usage):
        self.task = task
        self.program = program
        self.usage = usage
        self._registry, self._entry = choice.served(registry)
        self._adapter: RawTextAdapter = task_adapter(task)
        self._models: Models | None = None
        self._lm: SmoloptLM | None = None
        self._lock = threading.Lock()

    def start(self) -> ServedProgram:
        """Start (or reach) the model's server; later calls reuse it."""
        with self._lock:
            if self._lm is None:
                models = Models(self._registry)
                try:
                    self._lm = models.lm(self._entry)
                except BaseException:  # Ctrl-C while it loads too: no half-started server stays up
                    models.close()
                    raise
                self._models = models
        return self

    def close(self) -> None:
        """Stop the model server this program started (a server it found running is left running)."""
        with self._lock:
            if self._models is not None:
                self._models.close()
            self._models, self._lm = None, None

    def __enter__(self) -> ServedProgram:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def input_problem(self, inputs: dict[str, Any]) -> str | None:
        """What is wrong with `inputs` as the task's input fields (a missing or unknown field, named), or None."""
        takes = f"(task '{self.task.name}' takes {', '.join(self.task.inputs)})"
        if missing := [name for name in self.task.inputs if name not in inputs]:
            return f"missing input field '{missing[0]}' {takes}"
        if unknown := [name for name in inputs if name not in self.task.inputs]:
            return f"unknown input field '{unknown[0]}' {takes}"
        return None

    def __call__(self, **inputs: Any) -> dspy.Prediction:
        if problem := self.input_problem(inputs):
            raise SmoloptError(problem)
        lm = self.start()._lm
        with dspy.context(lm=lm, adapter=self._adapter):
            return self.program(**inputs)


def load_program(path: str | Path, *, model: str | None = None, task: str | Path | None = None,
                 registry: str | Path | None = None) -> ServedProgram:
    """A saved program.json (or the run folder holding it) as a callable served by its model.

    `model`: a registry entry to serve it with (default: the one its run recorded in config.json
    beside it, else the registry's student). `task`: a task name or folder (default: the run's).
    Everything is checked now (the file, its task, the entry, the adapter's file); the model starts
    on entering `with` or on the first call.
    """
    path = program_file(path)
    config = run_config(path)
    task_ = load_task(str(task)) if task is not None else saved_task(path, config)
    program = program_io.load_program(task_, path)
    registry_ = load_registry(registry)
    entry = model or recorded_entry(config)
    if entry is not None and entry not in registry_.models:
        raise SmoloptError(f"{path}: its run served model '{entry}', which {registry_.path} does not have "
                           f"(known: {', '.join(sorted(registry_.models))}); name one with --model (model= in Python)")
    adapter = program_io.saved_adapter(path)
    if adapter is not None and adapter.is_dir():  # an hf tune's peft folder: vLLM serves it (serve.sh), smolopt cannot
        if model is None:
            raise SmoloptError(f"{path}: its tuned weights ({adapter}) are served by vLLM: run the serve.sh beside it, add an entry with "
                               f"model = '{path.parent.name}' at that server, and name it with --model (model= in Python)")
        adapter = None  # the named entry asks vLLM for the tuned weights by their model name
    choice = ModelChoice.of(registry_, entry, adapter)
    return ServedProgram(task_, program, registry_, choice, program_usage(path, task_, program, choice.entry, choice.adapter))
