"""The Python front door: smolopt's model path, evaluation core and optimizer for a DSPy user's own
program, examples and metric (`lm`, `evaluate`, `Optimizer`). `smolopt optimize` runs the same
Optimizer; `smolopt eval` and `smolopt teach` are `smolopt.eval_run` and `smolopt.teach`.

    import dspy
    import smolopt

    with smolopt.lm("smollm2-135m") as lm:          # the embedded server starts here, stops on exit
        dspy.configure(lm=lm, adapter=smolopt.RawTextAdapter())
        print(smolopt.evaluate(program, devset, metric).accuracy)
        optimizer = smolopt.Optimizer(metric, budget="light")
        better = optimizer.compile(program, trainset=train, valset=val, testset=test)
        print(optimizer.result.test_change(), optimizer.run_dir)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import dspy

from smolopt.backends import CallCache, CallLog, Models
from smolopt.evaluation import EvalResult
from smolopt.evaluation import evaluate as evaluate_task
from smolopt.optimize.report import optimize_report
from smolopt.optimize.result import OptimizeResult
from smolopt.optimize.runner import OptimizeProgress, optimize, parse_budget
from smolopt.errors import SmoloptError
from smolopt.program_io import save_program
from smolopt.prompt_vs_weights import WeightsSearch, search_weights, with_weights
from smolopt.registry import load_registry, with_adapter
from smolopt.report import Report, markdown
from smolopt.runs import Run
from smolopt.scaffold import config_task, read_config, run_scaffold, task_config
from smolopt.tasks import Task, load_task, task_from_program
from smolopt.tune.train import EpochProgress

NO_TESTSET = "no testset: before/after is measured on valset, which also chose the candidate"


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


class Optimizer:
    """GEPA for tiny models, shaped like a DSPy optimizer: `compile(program, trainset=..., valset=...)`.

    The same engine, proposers (format search, few-shot injection, echo guard, guarded reflection),
    noise check and report as `smolopt optimize`. Each compile writes a run directory (config,
    calls, cache, accepted candidates and proposals, program.json, results.json, report.md); `result` and `run_dir` hold
    the last one.
    """

    def __init__(
        self,
        metric: Callable | None = None,
        *,
        student: str | None = None,
        reflection: str | None = None,
        judge: str | None = None,
        budget: str | int = "light",
        registry: str | Path | None = None,
        rule_budget: int | None = None,
        seed: int = 0,
        weights: str | None = None,
        adapter: str | None = None,
        progress: OptimizeProgress | None = None,
    ):
        """`reflection`: a registry entry, or None for format search and few-shot injection only.
        `judge`: the model a judged task's metric asks (None: the judge's parts are left out, with a notice).
        `budget`: light/medium/heavy (10/20/40 validation passes) or a number of metric calls.
        `rule_budget`: what `smolopt.probe.probed_rule_budget` measured, to flag overlong instructions.
        `weights`: "lora" also tunes the student's weights after the prompt search and searches again
        on them; the run then compares seed, prompt, weights and both on test (`smolopt.prompt_vs_weights`).
        `adapter`: serve the (embedded) student with this LoRA adapter.gguf while searching prompts."""
        self.metric = metric
        self.registry = load_registry(registry)
        self.adapter = adapter
        self.entry = self.registry.get(student).name  # the registry's own name (config.json), without the adapter
        self.student = self.entry
        if adapter:
            self.registry, self.student = with_adapter(self.registry, self.entry, adapter)
        if reflection is not None:
            self.registry.get(reflection)  # an unknown name is an error; an unreachable model is not
        self.reflection = reflection
        self.judge = judge
        if isinstance(budget, str):
            parse_budget(budget, 1)  # a bad budget is an error now, not after the model has started
        self.budget = budget
        self.rule_budget = rule_budget
        self.seed = seed
        if weights not in (None, "lora"):
            raise SmoloptError(f"--weights must be 'lora' (a LoRA tune of the student), not '{weights}'")
        if weights and (spec := self.registry.get(self.entry)).provider != "embedded":
            raise SmoloptError(f"--weights lora measures the tuned model on the embedded llama.cpp server, and model '{spec.name}' is served by "
                               f"{spec.provider}: add an embedded entry with gguf = the file it loads, or run `smolopt tune` (its serve.sh "
                               "and Modelfile serve the adapter elsewhere)")
        self.weights = weights
        self.epochs_progress: EpochProgress | None = None
        self.weights_result: WeightsSearch | None = None
        self.report: Report | None = None  # what the last run wrote to report.md
        self.progress = progress
        self.result: OptimizeResult | None = None
        self.run_dir: Path | None = None

    def compile(
        self,
        program: dspy.Module,
        *,
        trainset: list[dspy.Example],
        valset: list[dspy.Example],
        testset: list[dspy.Example] | None = None,
    ) -> dspy.Module:
        """The optimized copy of `program`. Without a testset, before/after is measured on valset,
        which also chose the candidate, and the result says so."""
        if self.metric is None:
            raise ValueError("Optimizer.compile needs the metric the optimizer was made with")
        task = task_from_program(program, self.metric, trainset, valset, testset)
        optimized, _ = self.run(task, notices=[] if testset is not None else [NO_TESTSET])
        return optimized

    def run(self, task: Task, run: Run | None = None, notices: Iterable[str] = ()) -> tuple[dspy.Module, OptimizeResult]:
        """Optimize a loaded task; a given `run` (see `resume`) replays the search from its cache.
        `notices`: what the caller must tell the user, kept with the run's own (results.json, report.md)."""
        budget = self.budget if isinstance(self.budget, int) else parse_budget(str(self.budget), len(task.split("val")))
        config = {**task_config(task), "student": self.entry, "reflection": self.reflection, "judge": self.judge, "budget": budget,
                  "seed": self.seed, "weights": self.weights, "adapter": self.adapter, "models": {name: self.registry.get(name).public() for name in filter(None, (self.student, self.reflection))}}
        with run_scaffold("optimize", config, self.registry, label=task.name, resume=run) as scaffold:
            for text in notices:
                scaffold.notice(text)
            judged = scaffold.judged(task, self.judge)
            optimized, result = optimize(judged, scaffold.models, scaffold.run, student=self.student,
                                         reflection=self.reflection, budget=budget, rule_budget=self.rule_budget, progress=self.progress,
                                         seed=self.seed)
            report, results, adapter = optimize_report(result), result.to_json(), None
            if self.weights:
                optimized, adapter, self.weights_result = search_weights(
                    judged, scaffold.models, scaffold.run, student=self.student, prompt_program=optimized, prompt=result,
                    budget=budget, seed=self.seed, epochs=self.epochs_progress)
                report, results = with_weights(report, self.weights_result), {**results, "weights": self.weights_result.to_json()}
            save_program(optimized, scaffold.run.path / "program.json", task.name, adapter=adapter)
            scaffold.write_results(results, markdown(report))
            self.report = report
        self.result, self.run_dir = result, scaffold.run.path
        return optimized, result

    @classmethod
    def resume(cls, path: str | Path, *, registry: str | Path | None = None, progress: OptimizeProgress | None = None) -> tuple[Optimizer, Task, Run]:
        """The optimizer, task and run of an interrupted `optimize` run, as its config.json recorded them."""
        run, (task_ref, arguments) = read_config(path, "optimize", _optimizer_arguments)
        return cls(**arguments, registry=registry, progress=progress), load_task(task_ref), run


def _optimizer_arguments(config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The task and the Optimizer's arguments as an optimize run's config.json recorded them."""
    return config_task(config), {"student": config["student"], "reflection": config["reflection"], "judge": config.get("judge"),
                                 "budget": int(config["budget"]), "seed": int(config["seed"]), "weights": config.get("weights"),
                                 "adapter": config.get("adapter")}
