"""The run scaffold: what every command that calls a model does around its own work.

    new run directory (config.json) → removed again if no model call was made → the run's model
    connections (calls.jsonl, cache.sqlite) → the task's judge, when its metric asks one → a dead
    server or Ctrl-C becomes one line naming what was kept and the command that continues →
    results.json and report.md

A command writes only its own part:

    with run_scaffold("eval", {**task_config(task), "split": split}, registry, label=task.name) as scaffold:
        task = scaffold.judged(task, judge)                      # the run's judge bound to the metric
        result = evaluate(task, program, examples, scaffold.models.lm(model))
        scaffold.write_results(result.to_json(), report)         # results.json (+ notices), report.md

and its `resume` reads the run back with `read_config`, which turns a config.json that is not
this command's, or lacks a key, into one line naming the file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from smolopt.backends import Models
from smolopt.errors import SmoloptError
from smolopt.metrics.judge import Judge
from smolopt.registry import Registry
from smolopt.runs import Run, new_run, open_run
from smolopt.tasks import Task

T = TypeVar("T")

KEPT = "finished calls are kept (a resume replays them from the cache)"


@dataclass
class Scaffold:
    """One command's open run: its directory, its model connections, and where it says things."""

    run: Run
    models: Models

    @property
    def notices(self) -> list[str]:
        """What the run must tell its user once (fallbacks, a missing judge), in the order they came."""
        return list(self.models.log.notices)

    def notice(self, text: str) -> None:
        """Tell the run's user `text` once: it reaches the terminal, results.json and report.md."""
        self.models.log.notice(text)

    def judged(self, task: Task, judge: str | None) -> Task:
        """The task with the run's judge bound to its metric, when its metric asks one (else the task
        itself): the registry model `judge` when it answers; otherwise an absent judge, and a notice
        that the judge's parts are left out (never a silent 0)."""
        return task.with_judge(open_judge(self.models, judge)) if task.uses_judge else task

    def write_results(self, results: dict[str, Any], report: str | None = None, *, complete: bool = True) -> None:
        """results.json (numbers, with `complete` and the run's notices) and, when given, report.md."""
        self.run.write_json("results.json", {**results, "complete": complete, "notices": self.notices})
        if report is not None:
            self.run.write_text("report.md", report)


@contextlib.contextmanager
def run_scaffold(
    command: str,
    config: dict[str, Any],
    registry: Registry,
    *,
    label: str,
    resume: Run | None = None,
    kept: Callable[[Scaffold], str] = lambda scaffold: KEPT,
    again: str | None = None,
) -> Iterator[Scaffold]:
    """Open a run of `smolopt <command>` and its model connections around the command's work.

    `config` goes to config.json (with the command, versions and time) of a new directory
    runs/<time>-<command>-<label>; `resume` continues an existing run instead (its cache answers
    every call already made). When the server stays down or the user presses Ctrl-C, `kept(scaffold)`
    saves what finished and says so, and the one-line message ends with `again` (default
    `smolopt <command> --resume <run>`). A run that fails before its first model call leaves no
    directory behind.
    """
    run = resume or new_run(command, label, config)
    # Only a directory made here is removed again: a resumed run (or a tune's, holding its
    # checkpoints and adapter before any model call) keeps what it had.
    discarded = run.discarded_if_unused() if resume is None else contextlib.nullcontext(run)
    with discarded, run.models(registry) as models:
        scaffold = Scaffold(run, models)
        with run.continuable(command, lambda: kept(scaffold), again):
            yield scaffold



def open_judge(models: Models, name: str | None) -> Judge:
    """The run's judge: the registry model `name` when it answers, else an absent judge, with a
    notice in the run's report that the judge's parts are left out (never a silent 0)."""
    why = "no judge model was given"
    if name is not None:
        models.registry.get(name)  # an unknown name is the user's error, not an unreachable judge
        try:
            return Judge(models.lm(name), name)
        except SmoloptError as err:
            why = f"judge {name} is not available ({err})"
    models.log.notice(f"{why}: the metric leaves out the judge's parts")
    return Judge.absent(why)


def task_config(task: Task) -> dict[str, str]:
    """A task as config.json records it: its name, and its folder, which `config_task` reads back."""
    return {"task": task.name, "task_path": str(task.path.resolve())}


def config_task(config: dict[str, Any]) -> str:
    """The task a config.json names: its folder when recorded (a task outside ./tasks), else its name."""
    return config.get("task_path") or config["task"]


def read_config(path: str | Path, command: str, read: Callable[[dict[str, Any]], T]) -> tuple[Run, T]:
    """The run at `path` and what `read` takes from its config.json, for `smolopt <command> --resume`.

    A run of another command, or a config.json that is not JSON or lacks what `read` asks for,
    is a one-line error naming the file.
    """
    run = open_run(path)
    where = run.path / "config.json"
    try:
        config = run.read_json("config.json")
        made_by = config.get("command")
        if made_by != command:
            raise SmoloptError(f"{run.path}: a '{made_by}' run, not a '{command}' run; smolopt {command} --resume continues {command} runs")
        return run, read(config)
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise SmoloptError(f"{where}: not a readable {command} config ({type(err).__name__}: {err})") from None
