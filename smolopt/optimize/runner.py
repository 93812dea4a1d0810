"""`optimize`: baseline, GEPA search, and an honest before/after on the untouched test split.

The optimizer sees train (reflection minibatches, demo pool) and val (Pareto scores, candidate
choice); test is evaluated only twice, by the baseline and by the chosen candidate, after the
search has ended.

Resume is a replay: a run started again in its own directory searches from the beginning with the
same seed, and every model call it already made comes back from the run's cache. GEPA can reload
its saved state, but that state holds neither its random generator (shared by candidate selection,
minibatch sampling and merge) nor the proposers' (few-shot draws, formats offered, module turn), so
a continued search would take other steps than an uninterrupted one. Replaying costs only the
cached calls' lookups and gives the uninterrupted run's numbers exactly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import dspy
import gepa
from gepa.core.callbacks import GEPACallback

from smolopt.adapters.formats import Format, seed_format
from smolopt.backends import Models
from smolopt.candidate import apply_candidate, is_demos_key, is_format_key, seed_candidate, set_formats
from smolopt.errors import SmoloptError
from smolopt.evaluation import evaluate, task_adapter
from smolopt.jsonl import append_jsonl, read_jsonl
from smolopt.optimize.gepa_adapter import Journal, SmoloptGEPAAdapter
from smolopt.optimize.proposers import (
    EchoGuardProposer, FewShotProposer, FormatProposer, PromptFit, Proposer, ReflectiveProposer, bias_order,
)
from smolopt.optimize.result import OptimizeResult, best_val_by_format, choose, iteration_table
from smolopt.prompt_size import prompt_room
from smolopt.registry import ModelSpec
from smolopt.runs import Run
from smolopt.serving.program import PROGRAM_FILE, loadable, program_usage
from smolopt.tasks import Task

# Named budgets in full validation passes, so they scale with the task: "light" on sentiment's 78
# val examples is 780 metric calls (about 3 minutes on the 135M with scored formats).
BUDGETS = {"light": 10, "medium": 20, "heavy": 40}
MINIBATCH = 4
REPLAYED = ("accepted.jsonl", "proposals.jsonl", "gepa.log")
CONTEXT_MARGIN = 0.9  # the characters-per-token estimate is rough: keep a tenth of the context spare

# progress(metric_calls_done, budget, best_val_score_so_far)
OptimizeProgress = Callable[[int, int, float], None]


def parse_budget(text: str, val_size: int) -> int:
    """'light' | 'medium' | 'heavy' (that many val passes) | a number of metric calls."""
    if text in BUDGETS:
        return BUDGETS[text] * val_size
    if text.isascii() and text.isdigit() and int(text) > 0:
        return int(text)
    raise SmoloptError(f"--budget must be light, medium, heavy or a positive number of metric calls, not '{text}'")


def served_by(deploy: ModelSpec | None) -> Callable[[Format], bool]:
    """Whether the deployment entry's server can ask a program in a format (`Format.needs`); every
    format when none is named."""
    if deploy is None:
        return lambda fmt: True
    return lambda fmt: all(deploy.can(need) for need in fmt.needs)


class ComponentCycle:
    """Round robin over the components a run may change (only demos when there is no reflection).

    One counter for the whole run: every iteration moves to the next module, whichever candidate
    it starts from (a per-candidate counter would keep giving each new child its first module).
    """

    def __init__(self, components: list[str]):
        self.components = components
        self._turn = 0

    def __call__(self, state, trajectories, subsample_scores, candidate_idx, candidate) -> list[str]:
        component = self.components[self._turn % len(self.components)]
        self._turn += 1
        return [component]


class Tracker(GEPACallback):
    """Writes each accepted candidate (iteration, parents, minibatch scores) to accepted.jsonl, which
    survives a resume, and reports progress (metric calls, best validation score)."""

    def __init__(self, path: Path, adapter: SmoloptGEPAAdapter, budget: int, progress: OptimizeProgress | None):
        self.path = path
        self.adapter = adapter
        self.budget = budget
        self.progress = progress
        self.best = 0.0
        self.minibatch: dict[int, dict[str, list[float]]] = {}

    def on_evaluation_end(self, event) -> None:
        side = "child" if event["candidate_idx"] is None else "parent"
        if event["has_trajectories"] or side == "child":
            self.minibatch.setdefault(event["iteration"], {})[side] = list(event["scores"])
        self._report()

    def on_candidate_accepted(self, event) -> None:
        scores = self.minibatch.get(event["iteration"], {})
        row = {
            "iteration": event["iteration"],
            "candidate": event["new_candidate_idx"],
            "parents": list(event["parent_ids"]),
            "minibatch_parent": scores.get("parent"),
            "minibatch_child": scores.get("child"),
        }
        append_jsonl(self.path, row)

    def on_valset_evaluated(self, event) -> None:
        self.best = max(self.best, event["average_score"])
        self._report()

    def _report(self) -> None:
        if self.progress:
            self.progress(min(self.adapter.metric_calls, self.budget), self.budget, self.best)


def optimize(
    task: Task,
    models: Models,
    run: Run,
    *,
    student: str,
    reflection: str | None,
    budget: int,
    rule_budget: int | None = None,
    progress: OptimizeProgress | None = None,
    seed: int = 0,
    from_program: dspy.Module | None = None,
    deploy: ModelSpec | None = None,
) -> tuple[dspy.Module, OptimizeResult]:
    """Search the task program's formats, demos (and instructions, with a reflection model) with GEPA.

    Returns the optimized program and its result; `rule_budget` (what a probe measured)
    flags candidates whose instructions grew far past what the model was measured to carry.
    `from_program`: search from this program as it stands (default: the task's, in the model's seed format).
    `deploy`: the entry the program will run on (`optimize --deploy`, by default the student): only
    formats its server offers are tried, so a program for LM Studio never depends on logprobs it does
    not give; None tries every format.
    """
    start = time.perf_counter()
    for replayed in REPLAYED:  # a resumed run writes these again as it replays
        (run.path / replayed).unlink(missing_ok=True)
    lm = models.lm(student)
    reflector, note = None, "no reflection model configured: few-shot injection only"
    if reflection:
        try:
            client = models.client(reflection)
            if not client.can("chat"):
                raise SmoloptError(f"'{reflection}' has no chat template (a base model) to be asked for a rewrite")
            reflector = ReflectiveProposer(client)
            note = f"reflection by {reflection}"
        except SmoloptError as err:
            note = f"reflection model unavailable ({err}): few-shot injection only"

    chats = lm.text_model.can("chat")
    serves = served_by(deploy)
    program = from_program.deepcopy() if from_program is not None else task.program()
    if from_program is None:  # a model without a chat template (or deployed where none is asked) starts from plain text
        set_formats(program, seed_format(chats and serves(seed_format(True))))
    train, val, test = task.split("train"), task.split("val"), task.split("test")

    # The bias to order demos against, measured on train (the optimizer may look there).
    baseline_train = evaluate(task, program, train, lm, split="train")
    order = bias_order(task.labels, baseline_train.predicted_distribution(), baseline_train.gold_distribution()) if task.labels else []
    room = int(prompt_room(models.registry.get(student), program) * CONTEXT_MARGIN)
    fits = PromptFit(program, task_adapter(task), train + val, room)
    fewshot = FewShotProposer(train, task.demo_for, task.gold_label if task.labels else (lambda e: None), order=order, seed=seed, fits=fits)
    instruction: list[Proposer] = [EchoGuardProposer(fewshot), *([reflector] if reflector else []), fewshot]
    chains: dict[str, list[Proposer]] = {"format": [FormatProposer(program, chats, serves), fewshot], "demos": [fewshot], "instruction": instruction}
    journal = Journal(run.path / "proposals.jsonl")
    adapter = SmoloptGEPAAdapter(task, program, lm, chains, journal)

    candidate0 = seed_candidate(program)
    # Per predictor: its format first (the largest measured lever for tiny models), then demos, then
    # the instruction when a reflection model can rewrite it.
    components = sorted(
        (k for k in candidate0 if is_format_key(k) or is_demos_key(k) or reflector is not None),
        key=lambda k: (0 if is_format_key(k) else 1 if is_demos_key(k) else 2),
    )
    tracker = Tracker(run.path / "accepted.jsonl", adapter, budget, progress)
    result = gepa.optimize(
        seed_candidate=candidate0,
        trainset=train,
        valset=val,
        adapter=adapter,
        candidate_selection_strategy="pareto",
        reflection_minibatch_size=MINIBATCH,
        module_selector=ComponentCycle(components),
        use_merge=True,
        max_metric_calls=budget,
        callbacks=[tracker],
        logger=_FileLogger(run.path / "gepa.log"),
        cache_evaluation=True,
        seed=seed,
        display_progress_bar=False,
    )
    choice = choose(result)
    best = result.candidates[choice.shipped]
    optimized = apply_candidate(program, best)

    baseline_test = evaluate(task, program, test, lm, split="test")
    optimized_test = evaluate(task, optimized, test, lm, split="test")
    return optimized, OptimizeResult(
        task=task.name,
        student=student,
        reflection=reflection if reflector else None,
        reflection_note=note,
        budget=budget,
        seed=candidate0,
        best=best,
        choice=choice,
        baseline_test=baseline_test,
        optimized_test=optimized_test,
        iterations=iteration_table(result, read_jsonl(run.path / "accepted.jsonl"), adapter.prompt_tokens, rule_budget),
        journal=journal,
        metric_calls=result.total_metric_calls or adapter.metric_calls,
        lm_calls=models.log.made,
        cached_calls=models.log.cached,
        wall_s=time.perf_counter() - start,
        rule_budget=rule_budget,
        demo_order=order,
        baseline_train_accuracy=baseline_train.accuracy,
        components=components,
        format_val=best_val_by_format(result),
        notices=list(models.log.notices),
        usage=program_usage(run.path / PROGRAM_FILE, task, optimized, student, None) if loadable(task) else None,
    )


class _FileLogger:
    """GEPA's log lines go to the run directory, not the terminal."""

    def __init__(self, path: Path):
        self.path = path

    def log(self, message: str) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(f"{message}\n")
