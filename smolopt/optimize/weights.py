"""Prompt vs weights vs both, as one search (`smolopt optimize TASK --weights lora`).

    1. prompt   GEPA over format, demos (and instructions with a reflection model): the usual optimize
    2. weights  one LoRA on the train split, rendered both zero-shot (the seed's instruction in the
                best format the deployment's server offers) and in the prompt search's chosen
                program, so the one adapter serves both arms below (train in the format you serve)
    3. both     GEPA again from the chosen program, on the tuned model: demos and format that suit
                the new weights, among the formats the deployment offers (no reflection: the
                instruction was already searched)

Four arms are measured on test, which no step above has seen: seed, prompt, weights, both. What
ships is chosen on val by `smolopt.optimize.decision`: the best val score among prompt, weights
and both, a tie keeping the simpler arm (prompt-only needs no adapter). results.json keeps every
arm's score on each val and test example, which `scripts/bench_decision.py` resamples. This module
is the optimize package's one door into `smolopt.tune` (tune imports nothing from optimize).

A student smolopt does not start (LM Studio, Ollama, llama-server, vLLM) is tuned from the GGUF its
entry names (`gguf = PATH`, the file that server loads): the prompt search runs on the user's own
server, and the weights and both arms (and the second search) on an embedded llama.cpp twin serving
that file with the adapter (`smolopt.registry.embedded_twin`), which the report says in one line.
smolopt cannot put an adapter on another program's server, and on the twin the tuned arms differ
from the base file only by the adapter. Every arm is asked only in formats the deployment entry's
server offers (`optimize --deploy`, by default the student): the twin gives token logprobs, but a
weights arm scored there would ship a program LM Studio cannot ask as it was measured.

What the run folder keeps is what the deployment's server loads, made from the student's file, for
the shipped arm only (`smolopt.server_kinds`, `ships_with`): LM Studio merged.gguf and its `lms
import` line, Ollama the Modelfile and its `ollama create` line, llama.cpp / vLLM / embedded serve.sh.
When the prompt ships, the tune's serving files are removed and its adapter kept in arms/weights/:
results.json and the arms table name it, and `smolopt eval --adapter arms/weights/adapter.gguf`
measures those arms again, while nothing at the top of the folder invites serving weights that did
not ship.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dspy

from smolopt.backends import Models
from smolopt.backends.weights import resolve_gguf
from smolopt.errors import SmoloptError
from smolopt.evaluation import EvalResult, evaluate
from smolopt.optimize.decision import Decision, decide
from smolopt.optimize.result import OptimizeResult
from smolopt.optimize.runner import optimize, served_by
from smolopt.registry import ModelSpec, embedded_twin
from smolopt.report import Report
from smolopt.runs import Run
from smolopt.server_kinds import MERGED_GGUF
from smolopt.tasks import Task
from smolopt.tune.arms import Arm, arm_rows, described
from smolopt.tune.merge import merge
from smolopt.tune.report import arms_section
from smolopt.tune.serving import MODELFILE, SERVE_SCRIPT
from smolopt.tune.session import in_best_format, tune_weights
from smolopt.tune.train import EpochProgress, Settings, Trained

# The tune inside optimize: alone, val peaked at epoch 2-3 of 8 on sentiment (96.2-98.7%); mixed
# (zero-shot and three-demo texts, twice the steps an epoch) at epoch 1 of 2 (95.5%, then 91.7%), and
# the main job has 12 minutes for the whole story.
SETTINGS = Settings(epochs=3, patience=1, device="auto")
AGAIN = 2  # the second search gets this many validation passes


SHIPPABLE = ("prompt", "weights", "both")  # simplest first: a tie on val keeps the simpler
UNSHIPPED = Path("arms") / "weights"  # where the adapter goes when the prompt ships (see the module's note)
TUNE_SERVING_FILES = (SERVE_SCRIPT, MODELFILE)  # what tune_weights leaves beside a GGUF adapter, for every server


def check_weights_student(spec: ModelSpec, deploy: ModelSpec | None = None) -> None:
    """Refuse, in one line and before the run folder exists, a student whose weights this run cannot
    tune, measure on llama.cpp, or leave in a form its server (or the `deploy` entry's) loads."""
    if deploy is not None and deploy.name != spec.name and not deploy.kind.ships_with:
        raise SmoloptError(f"--weights lora ships tuned weights, and --deploy '{deploy.name}' is served by {deploy.provider}, which loads "
                           "no weights file of yours: deploy on a server you run (LM Studio, Ollama, llama-server, vLLM)")
    if spec.started_here:
        return
    if spec.hf:
        raise SmoloptError(f"--weights lora measures the tuned arms on llama.cpp serving the student's GGUF, and model '{spec.name}' names a "
                           "Hugging Face folder (hf), which llama.cpp cannot serve: run `smolopt tune` (its serve.sh serves the adapter with vLLM)")
    if not spec.gguf:
        raise SmoloptError(f"--weights lora tunes the file the student is served from, and model '{spec.name}' (served by {spec.provider}) "
                           "names none: add gguf = the file it loads to its entry")
    if not spec.kind.ships_with:
        raise SmoloptError(f"--weights lora ships tuned weights, and model '{spec.name}' is served by {spec.provider}, which loads no weights "
                           "file of yours: name the server you run that file on")


@dataclass
class Shipping:
    """Where the adapter ended up, and what the run folder leaves for the student's own server."""

    adapter: Path
    files: list[Path] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # what the user types to give each file to that server


def ship_weights(run: Run, spec: ModelSpec, adapter: Path, arm: str, deploy: ModelSpec | None = None) -> Shipping:
    """Leave in `run` what the server of `deploy` (default: the student `spec`) loads for the shipped
    `arm` (its kind's `ships_with`), made from `spec`'s file, and no serving file for an adapter that
    does not ship; the tune wrote serve.sh and Modelfile for every server."""
    shipped = arm != "prompt"
    loads = (deploy or spec).kind.ships_with if shipped else ()
    for name in set(TUNE_SERVING_FILES) - {load.file for load in loads}:
        (run.path / name).unlink(missing_ok=True)
    if not shipped:
        kept = run.path / UNSHIPPED / adapter.name
        kept.parent.mkdir(parents=True, exist_ok=True)
        return Shipping(adapter.replace(kept))
    shipping = Shipping(adapter)
    for load in loads:
        path = run.path / load.file
        if load == MERGED_GGUF:  # the one file the tune does not write; made afresh, as a resumed run exports its adapter again
            merge(resolve_gguf(spec), adapter, path, spec.name)
        shipping.files.append(path)
        shipping.lines.append(load.line.format(path=shlex.quote(str(path)), name=run.path.name.lower()))
    return shipping


@dataclass
class WeightsSearch:
    """The four arms on test, their val scores, and which one ships."""

    arms: list[Arm]
    decision: Decision
    trained: Trained
    shipping: Shipping
    both: OptimizeResult
    # split -> arm -> example id -> score: every arm on test, the shippable ones on val (bench_decision resamples them)
    examples: dict[str, dict[str, dict[str, float]]]
    seconds: dict[str, float] = field(default_factory=dict)  # wall seconds of each step
    measured_on: str = ""  # where weights and both were served, when not on the student's own server

    @property
    def adapter(self) -> Path:
        return self.shipping.adapter

    @property
    def val(self) -> dict[str, float]:
        return self.decision.val

    @property
    def shipped(self) -> str:
        return self.decision.arm

    @property
    def ship_note(self) -> str:
        return self.decision.reason

    def to_json(self) -> dict[str, Any]:
        return {"arms": arm_rows(self.arms), "val": self.val, "shipped": self.shipped, "ship_note": self.ship_note,
                "rule": self.decision.rule, "adapter": str(self.adapter), "device": self.trained.settings["device"], "best_epoch": self.trained.best.epoch,
                "epochs": [e.__dict__ for e in self.trained.history], "both_candidate": self.both.best,
                "seconds": self.seconds, "examples": self.examples, "measured_on": self.measured_on,
                "ships_files": [str(path) for path in self.shipping.files], "load": self.shipping.lines}


def scores_by_id(result: EvalResult) -> dict[str, float]:
    """Each example's score by its id: what results.json keeps of an arm for bench_decision."""
    return {str(e.id): e.score for e in result.examples}


def _ship(val: dict[str, EvalResult]) -> Decision:
    """The arm to ship: the decision rule over each shippable arm's val scores (same examples, same order)."""
    return decide({name: [e.score for e in val[name].examples] for name in SHIPPABLE})


def search_weights(task: Task, models: Models, run: Run, *, student: str, prompt_program: dspy.Module, prompt: OptimizeResult,
                   budget: int, seed: int = 0, settings: Settings = SETTINGS, epochs: EpochProgress | None = None,
                   deploy: ModelSpec | None = None) -> tuple[dspy.Module, Path | None, WeightsSearch]:
    """Steps 2 and 3 after a finished prompt search; returns the program to ship, its adapter (or None), the numbers.
    `deploy`: the entry the program will run on; every arm is asked only as its server can ask, and what ships is what it loads."""
    zero_shot = in_best_format(task.program(), served_by(deploy))
    spec = models.registry.get(student)
    trained, adapter, seconds = tune_weights(task, [zero_shot, prompt_program], spec, run, settings, epochs)
    models.registry, served = embedded_twin(models.registry, student)  # the student itself when smolopt starts it
    measured_on = "" if served == spec.name else (f"weights and both measured on llama.cpp serving {spec.gguf}: "
                                                  f"{spec.provider} serves the prompt arms")
    tuned = models.with_adapter(served, adapter)
    lm = models.lm(tuned)
    both_run = Run(run.path / "both")
    both_run.path.mkdir(exist_ok=True)
    both_program, both = optimize(task, models, both_run, student=tuned, reflection=None, budget=AGAIN * len(task.split("val")),
                                  seed=seed, from_program=prompt_program, deploy=deploy)
    test, val = task.split("test"), task.split("val")
    weights_test = evaluate(task, zero_shot, test, lm, split="test")
    base_lm = models.lm(student)
    val_results = {"prompt": evaluate(task, prompt_program, val, base_lm, split="val"),
                   "weights": evaluate(task, zero_shot, val, lm, split="val"),
                   "both": evaluate(task, both_program, val, lm, split="val")}
    decision = _ship(val_results)
    shipping = ship_weights(run, spec, adapter, decision.arm, deploy)
    arms = [
        Arm("seed", described(task.program()), None, prompt.baseline_test),
        Arm("prompt", described(prompt_program), None, prompt.optimized_test),
        Arm("weights", described(zero_shot), str(shipping.adapter), weights_test, seconds),
        Arm("both", described(both_program), str(shipping.adapter), both.optimized_test, seconds),
    ]
    examples = {"val": {name: scores_by_id(result) for name, result in val_results.items()},
                "test": {arm.name: scores_by_id(arm.result) for arm in arms}}
    found = WeightsSearch(arms, decision, trained, shipping, both, examples,
                          {"prompt search": prompt.wall_s, "tune": seconds, "second search": both.wall_s}, measured_on)
    program = {"prompt": prompt_program, "weights": zero_shot, "both": both_program}[decision.arm]
    return program, (None if decision.arm == "prompt" else shipping.adapter), found


def with_weights(report: Report, found: WeightsSearch) -> Report:
    """The optimize report with the four arms on test and what shipped."""
    adapter = str(found.adapter) if found.shipped != "prompt" else f"{found.adapter} (trained and measured; not shipped)"
    facts = [*report.facts, ("weights", found.ship_note), ("adapter", adapter),
             *([("served", found.measured_on)] if found.measured_on else []),
             *(("load it", line) for line in found.shipping.lines),
             ("val", ", ".join(f"{name} {100 * score:.1f}%" for name, score in found.val.items())),
             ("seconds", ", ".join(f"{step} {value:.0f}" for step, value in found.seconds.items()))]
    return Report(report.title, facts, [*report.sections, arms_section(arm_rows(found.arms), "test split: seed / prompt / weights / both")])
