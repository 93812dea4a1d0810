"""The headline of an optimize run: the program that ships, on test, with prompt-only and the seed beside it.

The console, report.md's first table, results.json's `summary` and the view's runs list all read
this one value, so they cannot disagree: before it, the main job's console and report led with
prompt-only (39.6% → 69.8%) while the program that shipped ('both') scored 94.8%.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from smolopt.evaluation import EvalResult
from smolopt.optimize.result import OptimizeResult
from smolopt.report import Section, pct, points
from smolopt.stats import bootstrap_interval, paired_difference_interval

# results.json key of each arm's test evaluation (the view shows each one's examples)
ARM_KEYS = {"seed": "baseline_test", "prompt": "optimized_test", "weights": "weights_test", "both": "both_test"}
HEADERS = ["task", "model", "ships", "test [95% CI]", "prompt-only", "seed", "change vs seed, points [paired 95% CI]"]


@dataclass
class Shipped:
    """Which program ships and how it scored on the test split no step of the run has seen."""

    arm: str  # "prompt" (the prompt search's choice), or "weights" / "both" (with the tuned adapter)
    test: EvalResult
    prompt_only: EvalResult
    seed: EvalResult
    rule: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        scores, seed = [e.score for e in self.test.examples], [e.score for e in self.seed.examples]
        low, high = bootstrap_interval(scores)
        change_low, change_high = paired_difference_interval(seed, scores)
        return {"shipped": self.arm, "evaluation": ARM_KEYS[self.arm], "n": self.test.n, "accuracy": self.test.accuracy,
                "low": low, "high": high, "prompt_only": self.prompt_only.accuracy, "seed": self.seed.accuracy,
                "change_vs_seed": self.test.accuracy - self.seed.accuracy, "change_low": change_low, "change_high": change_high,
                "rule": self.rule, "reason": self.reason}


def shipped_of(result: OptimizeResult, arms: dict[str, EvalResult] | None = None, rule: str = "", reason: str = "",
               arm: str = "prompt") -> Shipped:
    """The shipped program of a prompt search (`arms` None), or the arm a weights search chose."""
    tested = arms[arm] if arms else result.optimized_test
    return Shipped(arm, tested, result.optimized_test, result.baseline_test, rule or result.choice.rule, reason or result.choice.reason)


def shipped_section(shipped: Shipped, task: str, model: str) -> Section:
    """report.md's first table, and the terminal's."""
    row = shipped.to_json()
    return Section("What ships, on the test split", HEADERS, [[
        task, model, shipped.arm + (" (with the tuned adapter)" if shipped.arm in ("weights", "both") else ""),
        f"{pct(row['accuracy'])} [{pct(row['low'])}, {pct(row['high'])}]", pct(row["prompt_only"]), pct(row["seed"]),
        f"{points(row['change_vs_seed'])} [{points(row['change_low'])}, {points(row['change_high'])}]",
    ]], f"{shipped.test.n} test examples, never seen by the run. Why this program: {shipped.reason}")
