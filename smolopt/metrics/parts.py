"""A metric made of named parts: each part scores in [0, 1] and says what went wrong.

Tasks whose quality has several sides (a story's length, genre, constraints, closeness to a
reference) score each side as a `Part`, and `combine` weighs them into the one score GEPA
maximizes. The parts travel with the score (`components` on the metric's prediction), so reports
can show which side an optimization moved, and the feedback names every failing part, which is
what a reflection model (or a retry) needs to fix it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import dspy

PASSING = 0.8  # a part scoring below this is named in the feedback as failing


@dataclass(frozen=True)
class Part:
    """One side of the score: a value in [0, 1] and what it means in words."""

    name: str
    score: float
    feedback: str


def combine(
    parts: list[Part], weights: Mapping[str, float], dropped: Mapping[str, str] | None = None, measures: Mapping[str, float] | None = None
) -> dspy.Prediction:
    """The weighted mean of the parts that could be measured, as the Task protocol's metric result.

    A part named in `weights` but missing from `parts` (its judge is unreachable, its library is
    not installed) is left out and its weight shared among the rest; `dropped` says why, and the
    feedback repeats it, so a missing part is never a silent zero. `components` holds every part's
    score for the reports' before/after tables, and `measures` beside them: numbers a report should
    show that are not parts of the score (a GAPELMAPER ratio, a fit's error).
    """
    measured = [part for part in parts if weights.get(part.name, 0) > 0]
    total = sum(weights[part.name] for part in measured)
    score = sum(weights[part.name] * part.score for part in measured) / total if total else 0.0
    failing = [part for part in measured if part.score < PASSING]
    lines = [f"- {part.name} ({part.score:.2f}): {part.feedback}" for part in failing]
    feedback = "Failing parts:\n" + "\n".join(lines) if lines else "Every part passes: " + ", ".join(f"{p.name} {p.score:.2f}" for p in measured) + "."
    if dropped:
        feedback += "\nNot measured: " + "; ".join(f"{name} ({why})" for name, why in dropped.items()) + "."
    return dspy.Prediction(score=score, feedback=feedback, components={**{part.name: part.score for part in parts}, **(measures or {})})
