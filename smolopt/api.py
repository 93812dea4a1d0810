"""The Python front door: smolopt's model path, adapter, evaluation core and optimizer for a DSPy
user's own program, examples and metric. `smolopt eval` and `smolopt optimize` call the same code.

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
from collections.abc import Callable, Iterator
from pathlib import Path

import dspy

from smolopt.adapters.formats import parse_format
from smolopt.backends import CallCache, CallLog, Models
from smolopt.candidate import set_format
from smolopt.errors import SmoloptError
from smolopt.evaluation import EvalResult, Progress
from smolopt.evaluation import evaluate as evaluate_task
from smolopt.metrics.judge import judge_for
from smolopt.optimize.report import markdown
from smolopt.optimize.result import OptimizeResult
from smolopt.optimize.runner import OptimizeProgress, optimize, parse_budget
from smolopt.program_io import load_program, save_program
from smolopt.references import FILENAME
from smolopt.registry import load_registry
from smolopt.report import outputs_markdown
from smolopt.runs import Run, new_run, open_run
from smolopt.tasks import Task, load_task, task_from_program
from smolopt.teach import Taught, teach


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
        progress: OptimizeProgress | None = None,
    ):
        """`reflection`: a registry entry, or None for format search and few-shot injection only.
        `judge`: the model a judged task's metric asks (None: the judge's parts are left out, with a notice).
        `budget`: light/medium/heavy (10/20/40 validation passes) or a number of metric calls.
        `rule_budget`: what `smolopt.probe.probed_rule_budget` measured, to flag overlong instructions."""
        self.metric = metric
        self.registry = load_registry(registry)
        self.student = self.registry.get(student).name
        if reflection is not None:
            self.registry.get(reflection)  # an unknown name is an error; an unreachable model is not
        self.reflection = reflection
        self.judge = judge
        if isinstance(budget, str):
            parse_budget(budget, 1)  # a bad budget is an error now, not after the model has started
        self.budget = budget
        self.rule_budget = rule_budget
        self.seed = seed
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
        optimized, result = self.run(task)
        if testset is None:
            result.notices.append("no testset: before/after is measured on valset, which also chose the candidate")
        return optimized

    def run(self, task: Task, run: Run | None = None) -> tuple[dspy.Module, OptimizeResult]:
        """Optimize a loaded task; a given `run` (see `resume`) replays the search from its cache."""
        budget = self.budget if isinstance(self.budget, int) else parse_budget(str(self.budget), len(task.split("val")))
        run = run or new_run("optimize", task.name, {
            "task": task.name, "task_path": str(task.path.resolve()), "student": self.student, "reflection": self.reflection,
            "judge": self.judge, "budget": budget, "seed": self.seed,
            "models": {name: self.registry.get(name).public() for name in filter(None, (self.student, self.reflection))},
        })
        with run.discarded_if_unused(), run.models(self.registry) as models, judge_for(task, models, self.judge):
            with run.continuable("optimize", lambda: "finished calls are kept (a resume replays them from the cache)"):
                optimized, result = optimize(task, models, run, student=self.student, reflection=self.reflection, budget=budget,
                                             rule_budget=self.rule_budget, progress=self.progress, seed=self.seed)
        save_program(optimized, run.path / "program.json", task.name)
        run.write_json("results.json", result.to_json())
        run.write_text("report.md", markdown(result))
        self.result, self.run_dir = result, run.path
        return optimized, result

    @classmethod
    def resume(cls, path: str | Path, *, registry: str | Path | None = None, progress: OptimizeProgress | None = None) -> tuple[Optimizer, Task, Run]:
        """The optimizer, task and run of an interrupted `optimize` run, as its config.json recorded them."""
        run = open_run(path)
        try:
            config = run.read_json("config.json")
            if config.get("command") != "optimize":
                raise SmoloptError(f"{run.path}: a '{config.get('command')}' run, not an optimize run; --resume continues optimize runs")
            student, reflection, budget, seed = config["student"], config["reflection"], int(config["budget"]), int(config["seed"])
            task_ref = config.get("task_path") or config["task"]
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise SmoloptError(f"{run.path / 'config.json'}: not a readable optimize config ({type(err).__name__}: {err})") from None
        optimizer = cls(student=student, reflection=reflection, judge=config.get("judge"), budget=budget, registry=registry, seed=seed,
                        progress=progress)
        return optimizer, load_task(task_ref), run


def run_eval(
    task_ref: str,
    *,
    split: str = "test",
    model: str | None = None,
    program_path: str | None = None,
    fmt: str | None = None,
    judge: str | None = None,
    refine: int = 1,
    registry: str | Path | None = None,
    run: Run | None = None,
    progress: Progress | None = None,
) -> tuple[EvalResult, Run, list[str]]:
    """`smolopt eval`: one program on one split in a run directory, with its notices.

    `judge`: the model a judged task's metric asks (None: its judge parts are left out, and the
    notices say so). `refine`: generations per example, each retry told the last one's feedback.
    Results are kept as examples finish; when the server goes down for good, the finished ones are
    written to results.json (marked incomplete) and the error names the command that continues.
    A resumed run (`resume_eval`) serves every finished call from the run's cache.
    """
    if refine < 1:
        raise SmoloptError(f"--refine must be 1 or more generations per example, not {refine}")
    registry_ = load_registry(registry)
    task = load_task(task_ref)
    spec = registry_.get(model)
    examples = task.split(split)
    program = load_program(task, program_path) if program_path else task.program()
    if fmt:
        chosen = parse_format(fmt, "--format")
        for name, predictor in program.named_predictors():
            set_format(predictor, str(chosen), name)
    run = run or new_run("eval", task.name, {"task": task.name, "task_path": str(task.path.resolve()), "split": split,
                                             "model": spec.public(), "program": program_path, "format": fmt,
                                             "judge": judge, "refine": refine})
    finished: list = []
    with run.discarded_if_unused(), run.models(registry_) as models, judge_for(task, models, judge):

        def keep_finished() -> str:
            partial = EvalResult(task.name, spec.name, split, finished, task.labels)
            run.write_json("results.json", {**partial.to_json(), "complete": False, "notices": models.log.notices})
            return f"{len(finished)} of {len(examples)} examples finished and are kept"

        with run.continuable("eval", keep_finished):
            result = evaluate_task(task, program, examples, models.lm(spec.name), split=split, progress=progress,
                                   on_result=finished.append, attempts=refine)
        run.write_json("results.json", {**result.to_json(), "complete": True, "notices": models.log.notices})
        if task.labels is None:
            run.write_text("outputs.md", outputs_markdown(result))
        return result, run, list(models.log.notices)


def resume_eval(path: str | Path, *, registry: str | Path | None = None, progress: Progress | None = None) -> tuple[EvalResult, Run, list[str]]:
    """Continue an eval run as its config.json recorded it; finished calls come from its cache."""
    run = open_run(path)
    try:
        config = run.read_json("config.json")
        if config.get("command") != "eval":
            raise SmoloptError(f"{run.path}: a '{config.get('command')}' run, not an eval run; smolopt eval --resume continues eval runs")
        task_ref, split, model = config.get("task_path") or config["task"], config["split"], config["model"]["name"]
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise SmoloptError(f"{run.path / 'config.json'}: not a readable eval config ({type(err).__name__}: {err})") from None
    return run_eval(task_ref, split=split, model=model, program_path=config.get("program"), fmt=config.get("format"),
                    judge=config.get("judge"), refine=int(config.get("refine") or 1), registry=registry, run=run, progress=progress)


def run_teach(task_ref: str, *, model: str, registry: str | Path | None = None, progress: Progress | None = None) -> tuple[Taught, Task, Run]:
    """`smolopt teach`: the model writes the task's reference outputs into its folder (see smolopt.teach)."""
    registry_ = load_registry(registry)
    task = load_task(task_ref)
    spec = registry_.get(model)
    run = new_run("teach", task.name, {"task": task.name, "task_path": str(task.path.resolve()), "model": spec.public()})
    with run.discarded_if_unused(), run.models(registry_) as models:
        again = f"smolopt teach {task_ref} --model {spec.name} (stories this teacher wrote are kept)"
        with run.continuable("teach", lambda: f"the references written so far are in {task.path / FILENAME}; calls", again):
            taught = teach(task, models.lm(spec.name), spec.name, progress)
    return taught, task, run
