"""The runs folder as the view lists it: one entry per run folder, and a bad folder never hides the rest.

Each folder under the runs folder is read on its own (config.json, results.json, see smolopt.runs).
One that cannot be read (not JSON, not the shape smolopt writes, a link out of the runs folder, no
config.json) is listed as "unreadable: <reason>" and the others still list. A folder is read again
only when one of its files changed, so the runs list and a run page of 1,000 examples cost a stat
per file once read. Nothing here writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smolopt.evaluation import EvalResult
from smolopt.stats import bootstrap_interval
from smolopt.model_choice import recorded_model_names
from smolopt.tune.arms import evaluation_key
from smolopt.view.evaluations import Unreadable, evaluations
from smolopt.view.paths import inside
from smolopt.view.task_folder import TaskFolder, read_task_folder

WATCHED = ("config.json", "results.json", "card.md")


@dataclass(frozen=True)
class Headline:
    """The score a runs list shows, with its 95% bootstrap interval; an optimize run's baseline beside it."""

    score: float
    low: float
    high: float
    baseline: Headline | None = None


@dataclass
class RunFolder:
    """One run folder as read: its config, its results and evaluations, or why it could not be read."""

    id: str
    path: Path
    config: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] | None = None  # None: no results.json (yet)
    evaluations: dict[str, EvalResult] = field(default_factory=dict)
    task: TaskFolder = field(default_factory=TaskFolder)
    headline: Headline | None = None
    unreadable: str | None = None

    @property
    def command(self) -> str:
        return str(self.config.get("command", "?"))

    @property
    def task_name(self) -> str:
        tasks = self.config.get("tasks")
        return str(self.config.get("task") or (", ".join(map(str, tasks)) if isinstance(tasks, list) else "?"))

    @property
    def model(self) -> str:
        return ", ".join(recorded_model_names(self.config)) or "?"

    @property
    def created(self) -> str:
        return str(self.config.get("created", ""))

    @property
    def complete(self) -> bool:
        """Finished: results.json says complete (an optimize run writes it only at its end), or a probe wrote its card."""
        if self.results is not None:
            return self.results.get("complete", True) is not False
        return (self.path / "card.md").is_file()

    @property
    def labels(self) -> tuple[str, ...] | None:
        return self.task.labels

    @property
    def gold_labels(self) -> list[str]:
        """The labels to filter examples by: the task's, else the gold answers its examples hold."""
        return list(self.labels or sorted({e.gold for ev in self.evaluations.values() for e in ev.examples if e.gold}))

    @property
    def free_text(self) -> bool:
        """Outputs are texts, not labels (story, long_story): the ones people can rate blind."""
        return self.labels is None and any(e.gold is None for ev in self.evaluations.values() for e in ev.examples)

    def final_evaluation(self) -> tuple[str, EvalResult] | None:
        """The evaluation that says what the run produced: an optimize run's shipped program on test
        (results.json `summary`), else its optimized test, a tune's tuned arm, else the first one."""
        shipped = (self.results or {}).get("summary", {}).get("evaluation")
        for key in (shipped, "optimized_test", evaluation_key("tuned")):
            if key in self.evaluations:
                return key, self.evaluations[key]
        return next(iter(self.evaluations.items()), None)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise Unreadable(f"{path.name}: not valid JSON ({err.msg}, line {err.lineno} column {err.colno})") from None
    except UnicodeDecodeError as err:
        raise Unreadable(f"{path.name}: not UTF-8 text (byte {err.start})") from None


def headline(run: RunFolder) -> Headline | None:
    results = run.results or {}
    shipped = results.get("summary")
    if run.command == "optimize" and isinstance(shipped, dict) and "shipped" in shipped:  # the program that ships, against the seed
        seed = run.evaluations.get("baseline_test")
        base = Headline(float(shipped["seed"]), *bootstrap_interval([e.score for e in seed.examples])) if seed else None
        return Headline(float(shipped["accuracy"]), float(shipped["low"]), float(shipped["high"]), base)
    if run.command == "optimize" and isinstance(results.get("optimized"), dict) and isinstance(results.get("baseline"), dict):
        before, after = results["baseline"], results["optimized"]
        base = Headline(float(before["accuracy"]), float(before["low"]), float(before["high"]))
        return Headline(float(after["accuracy"]), float(after["low"]), float(after["high"]), base)
    if (final := run.final_evaluation()) is not None and final[1].examples:
        scores = [example.score for example in final[1].examples]
        low, high = bootstrap_interval(scores)
        return Headline(sum(scores) / len(scores), low, high)
    return None


def read_run(path: Path) -> RunFolder:
    """A run folder, read; any problem ends in `unreadable` with the reason, never an exception."""
    run = RunFolder(path.name, path)
    try:
        if not (path / "config.json").is_file():
            raise Unreadable("no config.json (not a smolopt run folder)")
        config = read_json(path / "config.json")
        if not isinstance(config, dict):
            raise Unreadable("config.json: expected a JSON object")
        run.config = config
        run.task = read_task_folder(config.get("task_path"))
        if (path / "results.json").is_file():
            run.results = read_json(path / "results.json")
            try:
                run.evaluations = evaluations(run.results, run.task.labels)
            except Unreadable as err:
                raise Unreadable(f"results.json: {err}") from None
        run.headline = headline(run)
    except Unreadable as err:
        run.unreadable = str(err)
    except (OSError, KeyError, TypeError, ValueError, AttributeError) as err:
        run.unreadable = f"{type(err).__name__}: {err}"
    return run


class RunsIndex:
    """The runs folder, read lazily and kept while its files stay unchanged."""

    def __init__(self, root: Path):
        self.root = root
        self._cache: dict[str, tuple[tuple, RunFolder]] = {}

    @staticmethod
    def _stamp(path: Path) -> tuple:
        stamps = []
        for name in WATCHED:
            try:
                stat = (path / name).stat()
                stamps.append((stat.st_mtime_ns, stat.st_size))
            except OSError:
                stamps.append(None)
        return tuple(stamps)

    def get(self, run_id: str) -> RunFolder | None:
        """The run folder `run_id`, or None when there is none inside the runs folder by that name."""
        path = inside(self.root, run_id)
        if path is None or path.parent != self.root.resolve() or not path.is_dir():
            return None
        stamp = self._stamp(path)
        cached = self._cache.get(run_id)
        if cached is None or cached[0] != stamp:
            cached = (stamp, read_run(path))
            cached[1].id = run_id
            self._cache[run_id] = cached
        return cached[1]

    def runs(self) -> list[RunFolder]:
        """Every run folder, newest first; a folder linked from outside the runs folder is listed as unreadable."""
        if not self.root.is_dir():
            return []
        found = []
        for path in sorted(self.root.iterdir(), key=lambda p: p.name, reverse=True):
            if not path.is_dir():
                continue
            run = self.get(path.name)
            found.append(run if run is not None else RunFolder(path.name, path, unreadable="a link to a folder outside the runs folder"))
        return found
