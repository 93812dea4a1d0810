"""`optimize`: baseline, GEPA search, and an honest before/after on the untouched test split.

The optimizer sees train (reflection minibatches, demo pool) and val (Pareto scores, candidate
choice); test is evaluated only twice, by the baseline and by the chosen candidate, after the
search has ended.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gepa
from gepa.core.callbacks import GEPACallback

from smolopt.backends import Models
from smolopt.errors import SmoloptError
from smolopt.evaluate import EvalResult, evaluate
from smolopt.candidate import apply_candidate, demo_count, formats_of, is_demos_key, is_format_key, seed_candidate
from smolopt.optimize.fewshot import FewShotProposer, bias_order
from smolopt.optimize.gepa_adapter import Journal, SmoloptGEPAAdapter
from smolopt.optimize.reflection import ReflectiveProposer
from smolopt.optimize.rule_budget import added_sentences, past_budget, probed_rule_budget
from smolopt.program_io import save_program
from smolopt.prompt_size import prompt_room
from smolopt.runs import Run
from smolopt.stats import bootstrap_interval, paired_difference_interval
from smolopt.tasks import Task

# Named budgets in full validation passes, so they scale with the task: "light" on sentiment's 78
# val examples is 780 metric calls (about 3 minutes on the 135M with scored formats).
BUDGETS = {"light": 10, "medium": 20, "heavy": 40}
MINIBATCH = 4
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
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")

    def on_valset_evaluated(self, event) -> None:
        self.best = max(self.best, event["average_score"])
        self._report()

    def _report(self) -> None:
        if self.progress:
            self.progress(min(self.adapter.metric_calls, self.budget), self.budget, self.best)


@dataclass
class OptimizeResult:
    """Everything the report shows, and what the run directory keeps."""

    task: str
    student: str
    reflection: str | None
    reflection_note: str
    budget: int
    seed: dict[str, str]
    best: dict[str, str]
    baseline_test: EvalResult
    optimized_test: EvalResult
    iterations: list[dict]
    journal: Journal
    metric_calls: int
    lm_calls: int
    cached_calls: int
    wall_s: float
    # Best val score reached by each format GEPA evaluated ("chat generate", "completion score calibrated", …).
    format_val: dict[str, float] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)  # what the run must tell its user (fallbacks)
    extra: dict = field(default_factory=dict)

    @property
    def chosen_format(self) -> str:
        return format_label(self.best)

    def summary_rows(self) -> list[dict]:
        rows = []
        for name, result in (("baseline", self.baseline_test), ("optimized", self.optimized_test)):
            low, high = bootstrap_interval([e.score for e in result.examples])
            rows.append({"name": name, "accuracy": result.accuracy, "low": low, "high": high, "parse_rate": result.parse_rate, "echo_rate": result.echo_rate})
        return rows

    def test_change(self) -> dict[str, float]:
        """After minus baseline on the same test examples, with its paired 95% bootstrap interval."""
        before = [e.score for e in self.baseline_test.examples]
        after = [e.score for e in self.optimized_test.examples]
        low, high = paired_difference_interval(before, after)
        return {"change": self.optimized_test.accuracy - self.baseline_test.accuracy, "low": low, "high": high}


def _minibatch(scores: list[float] | None) -> str:
    return "" if not scores else f"{round(sum(scores), 2):g}/{len(scores)}"


def format_label(candidate: dict[str, str]) -> str:
    """A candidate's formats in one label ("completion score calibrated", or "a: …; b: …" for several predictors)."""
    formats = formats_of(candidate)
    if len(set(formats.values())) == 1:
        return next(iter(formats.values()))
    return "; ".join(f"{name}: {text}" for name, text in formats.items())


def best_val_by_format(result) -> dict[str, float]:
    """The best val score each format reached over the candidates GEPA evaluated on val."""
    found: dict[str, float] = {}
    for candidate, score in zip(result.candidates, result.val_aggregate_scores):
        label = format_label(candidate)
        found[label] = max(found.get(label, 0.0), score)
    return found


def choose(result) -> tuple[int, str]:
    """The candidate to ship: GEPA's best on val, but only when its gain over the seed is more than noise.

    With a couple of dozen validation examples a two-example gain is luck as often as not; a paired
    bootstrap interval of (best - seed) over the same val examples has to lie above zero.
    """
    best = result.best_idx
    if best == 0:
        return 0, "the seed scored best on val"
    ids = sorted(result.val_subscores[0], key=str)
    seed_scores = [result.val_subscores[0][i] for i in ids]
    best_scores = [result.val_subscores[best].get(i, 0.0) for i in ids]
    low, high = paired_difference_interval(seed_scores, best_scores)
    gain = (sum(best_scores) - sum(seed_scores)) / len(ids)
    shown = f"candidate {best}'s val gain {100 * gain:+.1f} pts (95% interval {100 * low:+.1f} to {100 * high:+.1f})"
    if low > 0:
        return best, f"chose {shown}"
    return 0, f"kept the seed: {shown} includes no gain"


def flag(seed: dict[str, str], candidate: dict[str, str], budget: int | None) -> str:
    added = added_sentences(seed, candidate)
    return f"+{added} sentences, past the rule budget {budget}" if budget is not None and past_budget(added, budget) else ""


def iteration_table(result, accepted: list[dict], tokens: dict[str, float], budget: int | None) -> list[dict]:
    """The baseline, then each accepted candidate: iteration, parent, minibatch and val scores, size,
    and a flag when its instruction is far past the probed rule budget."""
    found = {row["candidate"]: row for row in accepted}
    table = []
    for index, candidate in enumerate(result.candidates):
        row = found.get(index, {})
        parents = [p for p in result.parents[index] if p is not None]
        table.append({
            "candidate": index,
            "iteration": row.get("iteration", 0 if index == 0 else "?"),
            "parent": ", ".join(map(str, parents)) or "-",
            "minibatch": f"{_minibatch(row.get('minibatch_parent'))} → {_minibatch(row.get('minibatch_child'))}" if row else "",
            "val": result.val_aggregate_scores[index],
            "prompt_tokens": tokens.get(json.dumps(candidate, sort_keys=True)),
            "demos": demo_count(candidate),
            "flag": flag(result.candidates[0], candidate, budget),
        })
    return table


def optimize(
    task: Task,
    models: Models,
    run: Run,
    *,
    student: str,
    reflection: str | None,
    budget: int,
    progress: OptimizeProgress | None = None,
    seed: int = 0,
) -> OptimizeResult:
    start = time.perf_counter()
    lm = models.lm(student)
    reflector, note = None, "no reflection model configured: few-shot injection only"
    if reflection:
        try:
            reflector = ReflectiveProposer(models.client(reflection))
            note = f"reflection by {reflection}"
        except SmoloptError as err:
            note = f"reflection model unavailable ({err}): few-shot injection only"

    program = task.program()
    train, val, test = task.split("train"), task.split("val"), task.split("test")

    # The bias to order demos against, measured on train (the optimizer may look there).
    baseline_train = evaluate(task, program, train, lm, split="train")
    order = bias_order(task.labels, baseline_train.predicted_distribution(), baseline_train.gold_distribution()) if task.labels else []
    fewshot = FewShotProposer(train, task.demo_for, task.gold_label if task.labels else (lambda e: None), order=order, seed=seed)
    journal = Journal(run.path / "proposals.jsonl")
    room = int(prompt_room(models.registry.get(student)) * CONTEXT_MARGIN)
    adapter = SmoloptGEPAAdapter(task, program, lm, fewshot, reflector, journal, prompt_room=room, sizing_examples=train + val)

    candidate0 = seed_candidate(program)
    # Per predictor: its format first (the largest measured lever for tiny models), then demos, then
    # the instruction when a reflection model can rewrite it.
    components = sorted(
        (k for k in candidate0 if is_format_key(k) or is_demos_key(k) or reflector is not None),
        key=lambda k: (0 if is_format_key(k) else 1 if is_demos_key(k) else 2),
    )
    tracker = Tracker(run.path / "accepted.jsonl", adapter, budget, progress)
    gepa_dir = run.path / "gepa"
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
        run_dir=str(gepa_dir),
        callbacks=[tracker],
        logger=_FileLogger(run.path / "gepa.log"),
        cache_evaluation=True,
        seed=seed,
        display_progress_bar=False,
    )
    chosen, choice_note = choose(result)
    best = result.candidates[chosen]
    rule_budget = probed_rule_budget(student, task.name)
    optimized = apply_candidate(program, best)
    save_program(optimized, run.path / "program.json", task.name)

    baseline_test = evaluate(task, program, test, lm, split="test")
    optimized_test = evaluate(task, optimized, test, lm, split="test")
    accepted_path = run.path / "accepted.jsonl"
    accepted = [json.loads(line) for line in accepted_path.read_text().splitlines() if line.strip()] if accepted_path.exists() else []
    return OptimizeResult(
        task=task.name,
        student=student,
        reflection=reflection if reflector else None,
        reflection_note=note,
        budget=budget,
        seed=candidate0,
        best=best,
        baseline_test=baseline_test,
        optimized_test=optimized_test,
        iterations=iteration_table(result, accepted, adapter.prompt_tokens, rule_budget),
        journal=journal,
        metric_calls=result.total_metric_calls or adapter.metric_calls,
        lm_calls=models.log.made,
        cached_calls=models.log.cached,
        wall_s=time.perf_counter() - start,
        format_val=best_val_by_format(result),
        notices=list(models.log.notices),
        extra={"choice": choice_note, "rule_budget": rule_budget, "demo_order": order, "baseline_train_accuracy": baseline_train.accuracy, "components": components},
    )


class _FileLogger:
    """GEPA's log lines go to the run directory, not the terminal."""

    def __init__(self, path: Path):
        self.path = path

    def log(self, message: str) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(f"{message}\n")
