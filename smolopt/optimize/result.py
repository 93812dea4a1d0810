"""What an optimization found, as typed numbers: the report formats them, results.json keeps them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from smolopt.candidate import demo_count, formats_of
from smolopt.evaluation import EvalResult
from smolopt.optimize.decision import ARGMAX, decide
from smolopt.optimize.gepa_adapter import Journal
from smolopt.optimize.rule_budget import added_sentences, past_budget
from smolopt.stats import bootstrap_interval, paired_difference_interval
from smolopt.usage import Usage


@dataclass
class Choice:
    """Which candidate ships, the rule that chose it and why, and the val evidence: best minus seed,
    with its paired 95% interval (shown beside the decision, not deciding it)."""

    shipped: int
    best_on_val: int
    val_gain: float = 0.0
    low: float = 0.0
    high: float = 0.0
    rule: str = ""
    reason: str = ""


@dataclass
class IterationRow:
    """One candidate GEPA kept: where it came from, how it scored, how big it is."""

    candidate: int
    iteration: int | None  # None when the record of its acceptance was lost (a killed run)
    parents: list[int]
    minibatch_parent: list[float] | None
    minibatch_child: list[float] | None
    val: float
    prompt_tokens: float | None
    demos: int
    format: str
    added_sentences: int
    past_rule_budget: bool
    prompt: dict[str, str] = field(default_factory=dict)  # the candidate itself (instructions, demos, formats)


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


def choose(result) -> Choice:
    """The candidate to ship: GEPA's best on val against the seed, by the decision rule
    (`smolopt.optimize.decision`: the better val score ships, a tie keeps the seed)."""
    best = result.best_idx
    if best == 0:
        return Choice(0, 0, rule=ARGMAX, reason="the seed scored best on val")
    ids = sorted(result.val_subscores[0], key=str)
    seed_scores = [result.val_subscores[0][i] for i in ids]
    best_scores = [result.val_subscores[best].get(i, 0.0) for i in ids]
    decision = decide({"seed": seed_scores, f"candidate {best}": best_scores})
    low, high = paired_difference_interval(seed_scores, best_scores)
    gain = (sum(best_scores) - sum(seed_scores)) / len(ids)
    return Choice(0 if decision.arm == "seed" else best, best, gain, low, high, decision.rule, decision.reason)


def iteration_table(result, accepted: list[dict], tokens: dict[str, float], rule_budget: int | None) -> list[IterationRow]:
    """The seed, then each candidate GEPA kept, with its minibatch and val scores and its size."""
    found = {row["candidate"]: row for row in accepted}
    seed = result.candidates[0]
    rows = []
    for index, candidate in enumerate(result.candidates):
        row = found.get(index, {})
        added = added_sentences(seed, candidate)
        rows.append(IterationRow(
            candidate=index,
            iteration=row.get("iteration", 0 if index == 0 else None),
            parents=[p for p in result.parents[index] if p is not None],
            minibatch_parent=row.get("minibatch_parent"),
            minibatch_child=row.get("minibatch_child"),
            val=result.val_aggregate_scores[index],
            prompt_tokens=tokens.get(json.dumps(candidate, sort_keys=True)),
            demos=demo_count(candidate),
            format=format_label(candidate),
            added_sentences=added,
            past_rule_budget=rule_budget is not None and past_budget(added, rule_budget),
            prompt=candidate,
        ))
    return rows


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
    choice: Choice
    baseline_test: EvalResult
    optimized_test: EvalResult
    iterations: list[IterationRow]
    journal: Journal
    metric_calls: int
    lm_calls: int
    cached_calls: int
    wall_s: float
    rule_budget: int | None = None
    demo_order: list[str] = field(default_factory=list)  # most under-predicted label first
    baseline_train_accuracy: float = 0.0
    components: list[str] = field(default_factory=list)
    # Best val score reached by each format GEPA evaluated ("chat generate", "completion score calibrated", …).
    format_val: dict[str, float] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)  # what the run must tell its user (fallbacks, a missing test set)
    usage: Usage | None = None  # how to use the program the run saves (None: a program from Python, no task folder to load it by)

    @property
    def chosen_format(self) -> str:
        return format_label(self.best)

    def summary_rows(self) -> list[dict[str, float]]:
        """Baseline and optimized test accuracy, each with its 95% bootstrap interval."""
        rows = []
        for result in (self.baseline_test, self.optimized_test):
            low, high = bootstrap_interval([e.score for e in result.examples])
            rows.append({"accuracy": result.accuracy, "low": low, "high": high, "parse_rate": result.parse_rate, "echo_rate": result.echo_rate})
        return rows

    def test_change(self) -> dict[str, float]:
        """After minus baseline on the same test examples, with its paired 95% bootstrap interval."""
        before = [e.score for e in self.baseline_test.examples]
        after = [e.score for e in self.optimized_test.examples]
        low, high = paired_difference_interval(before, after)
        return {"change": self.optimized_test.accuracy - self.baseline_test.accuracy, "low": low, "high": high}

    def to_json(self) -> dict[str, Any]:
        """results.json: numbers and the prompts themselves; no display strings."""
        baseline, optimized = self.summary_rows()
        return {
            "task": self.task,
            "student": self.student,
            "reflection": self.reflection,
            "reflection_note": self.reflection_note,
            "budget": self.budget,
            "baseline": baseline,
            "optimized": optimized,
            "test_change": self.test_change(),
            "choice": asdict(self.choice),
            "chosen_format": self.chosen_format,
            "format_val": self.format_val,
            "iterations": [asdict(row) for row in self.iterations],
            "proposals": [asdict(record) for record in self.journal.records],
            "seed_candidate": self.seed,
            "best_candidate": self.best,
            "baseline_test": self.baseline_test.to_json(),
            "optimized_test": self.optimized_test.to_json(),
            "metric_calls": self.metric_calls,
            "lm_calls": self.lm_calls,
            "cached_calls": self.cached_calls,
            "wall_s": self.wall_s,
            "rule_budget": self.rule_budget,
            "demo_order": self.demo_order,
            "baseline_train_accuracy": self.baseline_train_accuracy,
            "components": self.components,
            "notices": self.notices,
        }
