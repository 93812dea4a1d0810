"""Prompt vs weights vs both, as one search (`smolopt optimize TASK --weights lora`).

    1. prompt   GEPA over format, demos (and instructions with a reflection model): the usual optimize
    2. weights  one LoRA on the train split, rendered both zero-shot (the seed's instruction in the
                model's best format) and in the prompt search's chosen program, so the one adapter
                serves both arms below (train in the format you serve)
    3. both     GEPA again from the chosen program, on the tuned model: demos and format that suit
                the new weights (no reflection: the instruction was already searched)

Four arms are measured on test, which no step above has seen: seed, prompt, weights, both. What
ships is chosen on val by `smolopt.optimize.decision`: the best val score among prompt, weights
and both, a tie keeping the simpler arm (prompt-only needs no adapter). results.json keeps every
arm's score on each val and test example, which `scripts/bench_decision.py` resamples. This module
is the optimize package's one door into `smolopt.tune` (tune imports nothing from optimize).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dspy

from smolopt.backends import Models
from smolopt.evaluation import EvalResult, evaluate
from smolopt.optimize.decision import Decision, decide
from smolopt.optimize.result import OptimizeResult
from smolopt.optimize.runner import optimize
from smolopt.report import Report
from smolopt.runs import Run
from smolopt.tasks import Task
from smolopt.tune.arms import Arm, arm_rows, described
from smolopt.tune.report import arms_section
from smolopt.tune.session import in_best_format, tune_weights
from smolopt.tune.train import EpochProgress, Settings, Trained

# The tune inside optimize: alone, val peaked at epoch 2-3 of 8 on sentiment (96.2-98.7%); mixed
# (zero-shot and three-demo texts, twice the steps an epoch) at epoch 1 of 2 (95.5%, then 91.7%), and
# the main job has 12 minutes for the whole story.
SETTINGS = Settings(epochs=3, patience=1)
AGAIN = 2  # the second search gets this many validation passes


SHIPPABLE = ("prompt", "weights", "both")  # simplest first: a tie on val keeps the simpler


@dataclass
class WeightsSearch:
    """The four arms on test, their val scores, and which one ships."""

    arms: list[Arm]
    decision: Decision
    trained: Trained
    adapter: Path
    both: OptimizeResult
    # split -> arm -> example id -> score: every arm on test, the shippable ones on val (bench_decision resamples them)
    examples: dict[str, dict[str, dict[str, float]]]
    seconds: dict[str, float] = field(default_factory=dict)  # wall seconds of each step

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
                "rule": self.decision.rule, "adapter": str(self.adapter), "best_epoch": self.trained.best.epoch,
                "epochs": [e.__dict__ for e in self.trained.history], "both_candidate": self.both.best,
                "seconds": self.seconds, "examples": self.examples}


def scores_by_id(result: EvalResult) -> dict[str, float]:
    """Each example's score by its id: what results.json keeps of an arm for bench_decision."""
    return {str(e.id): e.score for e in result.examples}


def _ship(val: dict[str, EvalResult]) -> Decision:
    """The arm to ship: the decision rule over each shippable arm's val scores (same examples, same order)."""
    return decide({name: [e.score for e in val[name].examples] for name in SHIPPABLE})


def search_weights(task: Task, models: Models, run: Run, *, student: str, prompt_program: dspy.Module, prompt: OptimizeResult,
                   budget: int, seed: int = 0, settings: Settings = SETTINGS,
                   epochs: EpochProgress | None = None) -> tuple[dspy.Module, Path | None, WeightsSearch]:
    """Steps 2 and 3 after a finished prompt search; returns the program to ship, its adapter (or None), the numbers."""
    zero_shot = in_best_format(task.program())
    trained, adapter, seconds = tune_weights(task, [zero_shot, prompt_program], models.registry.get(student), run, settings, epochs)
    tuned = models.with_adapter(student, adapter)
    lm = models.lm(tuned)
    both_run = Run(run.path / "both")
    both_run.path.mkdir(exist_ok=True)
    both_program, both = optimize(task, models, both_run, student=tuned, reflection=None, budget=AGAIN * len(task.split("val")),
                                  seed=seed, from_program=prompt_program)
    test, val = task.split("test"), task.split("val")
    arms = [
        Arm("seed", described(task.program()), None, prompt.baseline_test),
        Arm("prompt", described(prompt_program), None, prompt.optimized_test),
        Arm("weights", described(zero_shot), str(adapter), evaluate(task, zero_shot, test, lm, split="test"), seconds),
        Arm("both", described(both_program), str(adapter), both.optimized_test, seconds),
    ]
    base_lm = models.lm(student)
    val_results = {"prompt": evaluate(task, prompt_program, val, base_lm, split="val"),
                   "weights": evaluate(task, zero_shot, val, lm, split="val"),
                   "both": evaluate(task, both_program, val, lm, split="val")}
    decision = _ship(val_results)
    examples = {"val": {name: scores_by_id(result) for name, result in val_results.items()},
                "test": {arm.name: scores_by_id(arm.result) for arm in arms}}
    found = WeightsSearch(arms, decision, trained, adapter, both, examples,
                          {"prompt search": prompt.wall_s, "tune": seconds, "second search": both.wall_s})
    program = {"prompt": prompt_program, "weights": zero_shot, "both": both_program}[decision.arm]
    return program, (None if decision.arm == "prompt" else adapter), found


def with_weights(report: Report, found: WeightsSearch) -> Report:
    """The optimize report with the four arms on test and what shipped."""
    adapter = str(found.adapter) if found.shipped != "prompt" else f"{found.adapter} (trained and measured; not shipped)"
    facts = [*report.facts, ("weights", found.ship_note), ("adapter", adapter),
             ("val", ", ".join(f"{name} {100 * score:.1f}%" for name, score in found.val.items())),
             ("seconds", ", ".join(f"{step} {value:.0f}" for step, value in found.seconds.items()))]
    return Report(report.title, facts, [*report.sections, arms_section(arm_rows(found.arms), "test split: seed / prompt / weights / both")])
