"""Arms: one program served one way (base or tuned weights) on the test split, compared side by side.

`smolopt tune` compares two arms (the program on the base model, the same program on the tuned
weights); `optimize --weights lora` four (seed, prompt, weights, both). Each row holds the numbers
a report needs: accuracy with its 95% interval, the paired interval of the change against the
first arm (same examples, so most of the noise between arms cancels), tokens per call, latency and
the tuning seconds that arm cost.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

import dspy

from smolopt.candidate import formats_of, seed_candidate
from smolopt.evaluation import EvalResult
from smolopt.stats import bootstrap_interval, paired_difference_interval


@dataclass
class Arm:
    name: str
    program: str  # what was served, in words ("seed program, completion score calibrated")
    adapter: str | None  # adapter.gguf path, or None for the base weights
    result: EvalResult
    tune_seconds: float = 0.0


def described(program: dspy.Module) -> str:
    """What an arm serves, in words: its format(s) and how many demos ("completion score calibrated, 3 demos")."""
    formats = ", ".join(sorted(set(formats_of(seed_candidate(program)).values())))
    return f"{formats}, {sum(len(p.demos) for _, p in program.named_predictors())} demos"


def served_latency(result: EvalResult) -> float:
    """Median seconds per example over the examples that got an answer (an example answered from
    the run's cache counts the seconds the server took when it answered)."""
    served = [e.latency_s for e in result.examples if e.latency_s > 0]
    return statistics.median(served) if served else 0.0


def evaluation_key(arm: str) -> str:
    """results.json key of an arm's whole evaluation on test (every example's id, text and score):
    the view finds it there, and sets base and tuned side by side for blind reading."""
    return f"{arm}_test"


def arm_evaluations(arms: list[Arm]) -> dict[str, Any]:
    return {evaluation_key(arm.name): arm.result.to_json() for arm in arms}


def arm_rows(arms: list[Arm]) -> list[dict[str, Any]]:
    """One row of numbers per arm; `change` and its interval are against the first arm."""
    first = [e.score for e in arms[0].result.examples]
    rows = []
    for arm in arms:
        scores = [e.score for e in arm.result.examples]
        low, high = bootstrap_interval(scores)
        change_low, change_high = paired_difference_interval(first, scores)
        rows.append({
            "arm": arm.name, "program": arm.program, "adapter": arm.adapter, "n": arm.result.n,
            "accuracy": arm.result.accuracy, "interval": [low, high],
            "change": arm.result.accuracy - arms[0].result.accuracy, "change_interval": [change_low, change_high],
            "prompt_tokens_per_call": arm.result.per_call("prompt_tokens"), "calls_per_example": arm.result.calls_per_example,
            "median_latency_s": served_latency(arm.result), "tune_seconds": arm.tune_seconds,
        })
    return rows
