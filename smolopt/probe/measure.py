"""Running a planned probe: each variant through the evaluation core, reduced to a Measurement."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dspy

from smolopt.candidate import apply_candidate, formats_of
from smolopt.errors import SmoloptError
from smolopt.evaluation import EvalResult, Progress, evaluate
from smolopt.probe.plan import ADAPTERS, ProbePlan, Variant
from smolopt.probe.verdict import ECHO_KINDS, Measurement, TaskProbe


def echo_rates(result: EvalResult) -> dict[str, float]:
    """Share of examples with at least one echo of each kind (one example echoing twice counts once)."""
    n = result.n or 1
    return {kind: sum(any(echo.kind == kind for echo in e.echoes) for e in result.examples) / n for kind in ECHO_KINDS}


def _measurement(variant: Variant, **numbers: Any) -> Measurement:
    """A Measurement carrying the variant's identity; `numbers` are what the evaluation produced."""
    return Measurement(
        name=variant.name,
        group=variant.group,
        k=variant.k,
        ordering=variant.ordering,
        adapter=variant.adapter,
        format=", ".join(sorted(set(formats_of(variant.candidate).values()))),
        estimated_prompt_tokens=variant.estimated_prompt_tokens,
        demo_ids=variant.demo_ids,
        **numbers,
    )


def measure(variant: Variant, result: EvalResult) -> Measurement:
    """Reduce an evaluation to the numbers the card shows, keeping per-example scores for later statistics."""
    return _measurement(
        variant,
        accuracy=result.accuracy,
        parse_rate=result.parse_rate,
        echo_rates=echo_rates(result),
        prompt_tokens_per_call=result.per_call("prompt_tokens"),
        predicted=dict(result.predicted_distribution()),
        gold=dict(result.gold_distribution()),
        scores=[e.score for e in result.examples],
    )


def not_measured(variant: Variant, reason: str) -> Measurement:
    """A variant that produced no numbers; it stays in the record so the card can say why."""
    return _measurement(variant, skipped=reason)


def results_json(probes: Sequence[TaskProbe]) -> dict[str, Any]:
    """probe.json: every number, plus `rule_budget[model][task]` where `optimize` can look it up."""
    budgets: dict[str, dict[str, int]] = {}
    for probe in probes:
        budgets.setdefault(probe.model, {})[probe.task] = probe.rule_budget()
    return {"rule_budget": budgets, "probes": [probe.to_json() for probe in probes]}


def run_probe(plan: ProbePlan, lm: dspy.LM, *, progress: Progress | None = None) -> TaskProbe:
    """Evaluate every planned variant with `lm`; progress counts examples over `plan.total_steps`.

    A variant whose calls fail (a prompt the characters-a-token estimate put just inside the
    context can still overflow it) is recorded as not measured, so one bad variant does not cost
    the minutes already spent; a failing seed means the model itself is unusable, so it raises.
    """
    measurements: list[Measurement] = []
    done = 0
    for variant in plan.variants:
        if variant.skipped:
            measurements.append(not_measured(variant, variant.skipped))
            continue
        step = (lambda index, _total, base=done: progress(base + index, plan.total_steps)) if progress else None
        program = apply_candidate(plan.program, variant.candidate)
        try:
            result = evaluate(plan.task, program, plan.examples, lm, split="val", adapter=ADAPTERS[variant.adapter](plan.task), progress=step)
        except SmoloptError as err:
            if variant.group == "seed":
                raise
            measurements.append(not_measured(variant, f"failed: {err}"))
        else:
            measurements.append(measure(variant, result))
        done += len(plan.examples)
        if progress:
            progress(done, plan.total_steps)
    return TaskProbe(plan.model, plan.task.name, len(plan.examples), plan.task.labels, plan.context_length, measurements)
