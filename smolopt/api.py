"""The Python front door: smolopt's model path, evaluation core and optimizer for a DSPy user's own
program, examples and metric (`lm`, `evaluate`, `Optimizer`), and what a run shipped, as a callable
(`load_program`). Each command lives in its own package (`smolopt.evaluation.command`,
`smolopt.optimize.command`, `smolopt.probe.command`, `smolopt.tune.command`, `smolopt.teach.command`);
this module only re-exports what a user calls.

    import dspy
    import smolopt

    with smolopt.lm("smollm2-135m") as lm:          # the embedded server starts here, stops on exit
        dspy.configure(lm=lm, adapter=smolopt.RawTextAdapter())
        print(smolopt.evaluate(program, devset, metric).accuracy)
        optimizer = smolopt.Optimizer(metric, budget="light")
        better = optimizer.compile(program, trainset=train, valset=val, testset=test)
        print(optimizer.result.test_change(), optimizer.run_dir)

    with smolopt.load_program("runs/<id>/program.json") as program:   # its model and adapter, served
        print(program(text="A warm, funny film.").sentiment)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import dspy

from smolopt.backends import CallCache, CallLog, Models
from smolopt.evaluation import EvalResult
from smolopt.evaluation import evaluate as evaluate_task
from smolopt.optimize.command import Optimizer
from smolopt.registry import load_registry
from smolopt.serving.program import load_program
from smolopt.tasks import task_from_program

__all__ = ["Optimizer", "evaluate", "lm", "load_program"]


@contextlib.contextmanager
def lm(name: str | None = None, *, registry: str | Path | None = None, run_dir: str | Path | None = None) -> Iterator[dspy.LM]:
    """A dspy.LM for a registry entry (default: the registry's student) over smolopt's raw path.

    An embedded model's llama.cpp server starts on entering and stops on leaving. With `run_dir`,
    every call is logged to calls.jsonl and cached in cache.sqlite there.
    """
    log, cache = CallLog(), None
    if run_dir is not None:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        log, cache = CallLog(Path(run_dir) / "calls.jsonl"), CallCache(Path(run_dir) / "cache.sqlite")
    with Models(load_registry(registry), log=log, cache=cache) as models:
        yield models.lm(name)


def evaluate(program: dspy.Module, examples: list[dspy.Example], metric: Callable, *, lm: dspy.LM | None = None) -> EvalResult:
    """Run `program` on `examples` through RawTextAdapter and score each with `metric`.

    `metric(example, prediction)` returns a number or score/feedback (see tasks.as_task_metric).
    Calibrated formats measure the prompt's label bias on the examples' inputs (not their labels).
    """
    task = task_from_program(program, metric, trainset=examples)
    return evaluate_task(task, program, examples, lm or dspy.settings.lm, split="examples")
