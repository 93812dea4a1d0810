"""`smolopt optimize`: GEPA for tiny models on a task, shaped like a DSPy optimizer (`Optimizer`),
and the command's front door (`start_optimize`, `resume_optimize`), which also reads the rule budget
a probe measured for the student.

With `weights="lora"` the run goes on to tune the student's weights and compare seed / prompt /
weights / both on test (`smolopt.optimize.weights`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, get_args

import dspy

from smolopt.baseline import RESULTS_KEY as BASELINE_KEY
from smolopt.baseline import baseline_section, embedding_baseline
from smolopt.errors import SmoloptError
from smolopt.model_choice import ModelChoice
from smolopt.optimize.report import optimize_report
from smolopt.optimize.result import OptimizeResult
from smolopt.optimize.rule_budget import probed_rule_budget
from smolopt.optimize.runner import OptimizeProgress, optimize, parse_budget
from smolopt.optimize.shipped import ARM_KEYS, shipped_of, shipped_section
from smolopt.program_io import save_program
from smolopt.server_kinds import Capability
from smolopt.serving.program import PROGRAM_FILE, program_usage, saved_usage
from smolopt.usage import usage_section
from smolopt.optimize.weights import WeightsSearch, check_weights_student, search_weights, with_weights
from smolopt.registry import ModelSpec, load_registry
from smolopt.report import Report, markdown
from smolopt.runs import Run
from smolopt.scaffold import config_task, read_config, run_scaffold, task_config
from smolopt.tasks import Task, load_task, task_from_program
from smolopt.tune.train import EpochProgress

NO_TESTSET = "no testset: before/after is measured on valset, which also chose the candidate"


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
        student: str | ModelChoice | None = None,
        reflection: str | None = None,
        judge: str | None = None,
        budget: str | int = "light",
        registry: str | Path | None = None,
        rule_budget: int | None = None,
        seed: int = 0,
        weights: str | None = None,
        adapter: str | None = None,
        deploy: str | None = None,
        progress: OptimizeProgress | None = None,
        epochs_progress: EpochProgress | None = None,
    ):
        """`reflection`: a registry entry, or None for format search and few-shot injection only.
        `judge`: the model a judged task's metric asks (None: the judge's parts are left out, with a notice).
        `budget`: light/medium/heavy (10/20/40 validation passes) or a number of metric calls.
        `rule_budget`: what a probe measured (`smolopt.optimize.rule_budget.probed_rule_budget`), to flag overlong instructions.
        `weights`: "lora" also tunes the student's weights after the prompt search and searches again
        on them; the run then compares seed, prompt, weights and both on test (`smolopt.optimize.weights`).
        A student smolopt does not start is tuned from its entry's `gguf`, its tuned arms measured on llama.cpp serving that file.
        `adapter`: serve the (embedded) student with this LoRA adapter.gguf while searching prompts.
        `deploy`: the entry the program will run on (None: the student's own); only the formats its
        server offers are searched, for every arm, and tuned weights ship as its server loads them.
        `progress` and `epochs_progress`: called as the search and the tune go."""
        self.metric = metric
        self.registry = load_registry(registry)
        self.choice = student if isinstance(student, ModelChoice) else ModelChoice.of(self.registry, student, adapter)
        self.entry = self.choice.entry  # the registry's own name, without the adapter
        self.registry, self.student = self.choice.served(self.registry)
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
        self.deploy = self.entry if deploy is None else deploy  # config.json records the entry resolved
        deployment = self.registry.get(self.deploy)  # an unknown name is an error now
        if weights:
            check_weights_student(self.registry.get(self.entry), deployment)
        self.weights = weights
        self.epochs_progress = epochs_progress
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
        config = {**task_config(task), "model": self.choice.to_config(self.registry), "reflection": self.reflection, "judge": self.judge,
                  "budget": budget, "seed": self.seed, "weights": self.weights, "rule_budget": self.rule_budget, "deploy": self.deploy,
                  "reflection_spec": self.registry.get(self.reflection).public() if self.reflection else None}
        with run_scaffold("optimize", config, self.registry, label=task.name, resume=run) as scaffold:
            for text in notices:
                scaffold.notice(text)
            judged = scaffold.judged(task, self.judge)
            deployment = self.registry.get(self.deploy)
            optimized, result = optimize(judged, scaffold.models, scaffold.run, student=self.student,
                                         reflection=self.reflection, budget=budget, rule_budget=self.rule_budget, progress=self.progress,
                                         seed=self.seed, deploy=deployment)
            report, results, adapter = optimize_report(result), result.to_json(), None
            shipped = shipped_of(result)
            if self.weights:
                optimized, adapter, found = search_weights(
                    judged, scaffold.models, scaffold.run, student=self.student, prompt_program=optimized, prompt=result,
                    budget=budget, seed=self.seed, epochs=self.epochs_progress, deploy=deployment)
                arms = {arm.name: arm.result for arm in found.arms}
                shipped = shipped_of(result, arms, found.decision.rule, found.decision.reason, found.shipped)
                report = with_weights(report, found)
                results = {**results, "weights": found.to_json(), ARM_KEYS["weights"]: arms["weights"].to_json(),
                           ARM_KEYS["both"]: arms["both"].to_json()}
                self.weights_result = found
            sections = [shipped_section(shipped, task.name, self.student), *report.sections]
            baseline_notices: list[str] = []  # after the search, so embedding never shares the cores with generation
            if (baseline := embedding_baseline(judged, baseline_notices)) is not None:
                sections.insert(1, baseline_section(baseline))
                results = {**results, BASELINE_KEY: baseline.to_json()}
            for text in baseline_notices:
                scaffold.notice(text)
            report = Report(report.title, report.facts, sections)
            results = {**results, "summary": shipped.to_json()}
            save_program(optimized, scaffold.run.path / PROGRAM_FILE, task.name, adapter=adapter)
            needs = program_usage(scaffold.run.path / PROGRAM_FILE, task, optimized, self.student, adapter).needs()
            results = {**results, "deployment": deployment_of(deployment, needs)}
            report = Report(report.title, [deployment_fact(results["deployment"]), *report.facts], report.sections)
            if adapter is not None and result.usage is not None:  # the tuned weights shipped: say how to use what shipped, not the prompt arm
                shipped_usage = usage_section(saved_usage(scaffold.run.path / PROGRAM_FILE))
                report = Report(report.title, report.facts, [shipped_usage if s.title == shipped_usage.title else s for s in report.sections])
            scaffold.write_results(results, markdown(report))
            self.report = report
        self.result, self.run_dir = result, scaffold.run.path
        return optimized, result


def deployment_of(spec: ModelSpec, needs: set[Capability]) -> dict[str, Any]:
    """results.json's `deployment`: the entry the formats were searched for, what its server offers,
    and what the shipped program needs from a server (each format's `Format.needs`)."""
    return {"entry": spec.name, "provider": spec.provider, "offers": [c for c in get_args(Capability) if spec.can(c)],
            "needs": [c for c in get_args(Capability) if c in needs]}


def deployment_fact(deployment: dict[str, Any]) -> tuple[str, str]:
    """The report's line on it ("formats searched for 'mine' (lmstudio: chat, completions); what ships needs completions from a server")."""
    return ("deployment", f"formats searched for '{deployment['entry']}' ({deployment['provider']}: {', '.join(deployment['offers'])}); "
                          f"what ships needs {', '.join(deployment['needs'])} from a server")


def start_optimize(task_ref: str, *, model: str | None = None, reflection: str | None = None, judge: str | None = None,
                   budget: str | int = "light", seed: int = 0, weights: str | None = None, adapter: str | None = None,
                   deploy: str | None = None, registry: str | Path | None = None, progress: OptimizeProgress | None = None,
                   epochs_progress: EpochProgress | None = None) -> Optimizer:
    """`smolopt optimize TASK`: the task and its optimizer checked before anything starts, the rule
    budget a probe measured for the student (if one did), then the run; returns the finished optimizer."""
    task, registry_ = load_task(task_ref), load_registry(registry)
    student = ModelChoice.of(registry_, model, adapter)
    optimizer = Optimizer(student=student, reflection=reflection, judge=judge, budget=budget, registry=registry, seed=seed,
                          weights=weights, rule_budget=probed_rule_budget(student.served(registry_)[1], task.name),
                          deploy=deploy, progress=progress, epochs_progress=epochs_progress)
    optimizer.run(task)
    return optimizer


def resume_optimize(path: str | Path, *, registry: str | Path | None = None, progress: OptimizeProgress | None = None,
                    epochs_progress: EpochProgress | None = None) -> Optimizer:
    """`smolopt optimize --resume runs/<id>`: the run as its config.json recorded it; finished calls come from its cache."""
    run, (task_ref, arguments) = read_config(path, "optimize", _optimizer_arguments)
    optimizer = Optimizer(**arguments, registry=registry, progress=progress, epochs_progress=epochs_progress)
    optimizer.run(load_task(task_ref), run)
    return optimizer


def _optimizer_arguments(config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The task and the Optimizer's arguments as an optimize run's config.json recorded them."""
    return config_task(config), {"student": ModelChoice.from_config(config["model"]), "reflection": config["reflection"],
                                 "judge": config.get("judge"), "budget": int(config["budget"]), "seed": int(config["seed"]),
                                 "weights": config.get("weights"), "rule_budget": config.get("rule_budget"), "deploy": config.get("deploy")}
