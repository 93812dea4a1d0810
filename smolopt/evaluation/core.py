"""The evaluation core: run a program over examples, score each, and keep what it cost.

`eval`, `optimize` and `probe` all score candidates here, so a parse failure, an echo or a token
count means the same thing in every report. Examples run up to the model's `parallel` at once
(its servers' slots or replicas), each in its own context, so its collectors count its own calls
and outcomes only; results keep the examples' order, and every example sends the requests it would
send alone, so a concurrent run equals a sequential one and fills the call cache the same.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import dspy
from dspy.utils.exceptions import AdapterParseError

from smolopt.adapters import Echo, RawTextAdapter
from smolopt.adapters.label_scorer import CALIBRATION_BATCH
from smolopt.adapters.outcomes import Outcome, answer_outcome, collect_outcomes
from smolopt.backends.calls import collect_calls
from smolopt.backends.engine import SmoloptLM
from smolopt.candidate import with_feedback
from smolopt.errors import ContextOverflow, ExampleFailure, found_in
from smolopt.parallel import map_in_order
from smolopt.tasks import Task

Progress = Callable[[int, int], None]


@dataclass
class ExampleResult:
    """One example: what was asked, what came back, how it scored, what it cost."""

    id: str
    gold: str | None
    predicted: str | None
    score: float
    feedback: str
    parsed: bool
    echoes: list[Echo]
    raw: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    uncalibrated: str | None = None  # the label a calibrated format chose before calibration
    steps: int = 0  # predictor calls RawTextAdapter answered (two per example for a two-step program)
    unparsed_steps: int = 0  # of those, replies that could not be read (a first step's too)
    components: dict[str, float] = field(default_factory=dict)  # the metric's named parts (see smolopt.metrics.parts)
    attempts: int = 1  # generations tried (more than one with --refine)
    trace: list = field(default_factory=list, repr=False)  # (predictor, inputs, prediction) when captured

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "trace"}
        data["echoes"] = [{"kind": e.kind, "line": e.line} for e in self.echoes]
        return data


@dataclass
class EvalResult:
    """All examples of one evaluation, with the summary numbers every report shows."""

    task: str
    model: str
    split: str
    examples: list[ExampleResult]
    labels: tuple[str, ...] | None = None

    @property
    def n(self) -> int:
        return len(self.examples)

    @property
    def accuracy(self) -> float:
        return sum(e.score for e in self.examples) / self.n if self.n else 0.0

    @property
    def parse_rate(self) -> float:
        return sum(e.parsed for e in self.examples) / self.n if self.n else 0.0

    @property
    def step_parse_rate(self) -> float:
        """Share of every predictor call's replies that could be read (each step of a multi-step program)."""
        steps = sum(e.steps for e in self.examples)
        return 1 - sum(e.unparsed_steps for e in self.examples) / steps if steps else self.parse_rate

    @property
    def echo_rate(self) -> float:
        return sum(bool(e.echoes) for e in self.examples) / self.n if self.n else 0.0

    def echo_counts(self) -> Counter:
        return Counter(echo.kind for e in self.examples for echo in e.echoes)

    def predicted_distribution(self) -> Counter:
        return Counter(e.predicted if e.parsed else "(unparsed)" for e in self.examples)

    def uncalibrated_distribution(self) -> Counter | None:
        """Labels before calibration, when a calibrated format answered (else None)."""
        if not any(e.uncalibrated for e in self.examples):
            return None
        return Counter(e.uncalibrated or e.predicted or "(unparsed)" for e in self.examples)

    def gold_distribution(self) -> Counter:
        return Counter(e.gold for e in self.examples)

    def per_call(self, attr: str) -> float:
        calls = sum(e.calls for e in self.examples)
        return sum(getattr(e, attr) for e in self.examples) / calls if calls else 0.0

    @property
    def calls_per_example(self) -> float:
        return sum(e.calls for e in self.examples) / self.n if self.n else 0.0

    def component_means(self) -> dict[str, float]:
        """Each metric part's mean over the examples that measured it (a part a judge could not
        read for one story is averaged over the others, not counted as 0)."""
        names = dict.fromkeys(name for e in self.examples for name in e.components)
        return {name: statistics.mean(e.components[name] for e in self.examples if name in e.components) for name in names}

    @property
    def median_latency_s(self) -> float:
        return statistics.median(e.latency_s for e in self.examples) if self.n else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "model": self.model,
            "split": self.split,
            "n": self.n,
            "accuracy": self.accuracy,
            "parse_rate": self.parse_rate,
            "step_parse_rate": self.step_parse_rate,
            "echo_rate": self.echo_rate,
            "echo_counts": dict(self.echo_counts()),
            "predicted_distribution": dict(self.predicted_distribution()),
            "uncalibrated_distribution": dict(before) if (before := self.uncalibrated_distribution()) else None,
            "gold_distribution": dict(self.gold_distribution()),
            "calls_per_example": self.calls_per_example,
            "prompt_tokens_per_call": self.per_call("prompt_tokens"),
            "completion_tokens_per_call": self.per_call("completion_tokens"),
            "median_latency_s": self.median_latency_s,
            "components": self.component_means(),
            "attempts_per_example": sum(e.attempts for e in self.examples) / self.n if self.n else 0.0,
        }

    def to_json(self) -> dict[str, Any]:
        return {"summary": self.summary(), "examples": [e.to_json() for e in self.examples]}


def echo_feedback(echoes: list[Echo]) -> str:
    """What the reflection should hear about echoes: prohibitions above all."""
    notes = []
    for echo in echoes:
        if echo.kind == "prohibition":
            notes.append(f"The model repeated the prohibition {echo.line!r} instead of obeying it; show an example instead of the rule.")
        else:
            notes.append(f"The model echoed its {echo.kind} ({echo.line[:60]!r}) instead of answering.")
    return " ".join(dict.fromkeys(notes))


def score_prediction(
    task: Task, example: dspy.Example, prediction: dspy.Prediction, answer: Outcome | None = None
) -> tuple[float, str, bool, dict[str, float]]:
    """(score, feedback, parsed, parts): an answer that could not be read is 0 with what the model said
    (`answer`: the Outcome of the call that wrote the task's output, when an adapter call did);
    otherwise the task's metric."""
    error = answer.parse_error if answer else None
    if error or prediction.get(task.output) is None:
        raw = (answer.raw if answer else "").strip()
        shown = raw[:200] if raw else "(nothing)"
        return 0.0, f"Could not read an answer ({error or 'no ' + task.output}). The model said: {shown!r}", False, {}
    verdict = task.metric(example, prediction)
    return float(verdict.score), str(verdict.feedback), True, dict(verdict.get("components") or {})


def run_example(
    task: Task, program: dspy.Module, example: dspy.Example, lm: dspy.LM, adapter: dspy.Adapter, capture_trace: bool = False
) -> ExampleResult:
    """Run and score one example; its LM calls and every step's parse and echo outcomes come through
    collectors (per context, so examples on several threads each collect their own)."""
    start = time.perf_counter()
    failed: Outcome | None = None  # an answer that never came: the example's failure, as an Outcome
    with collect_calls() as calls, collect_outcomes() as outcomes, dspy.context(lm=lm, adapter=adapter, trace=[]):
        try:
            prediction = program(**example.inputs())
        except AdapterParseError as err:  # stock DSPy adapters raise where RawTextAdapter reports
            prediction, failed = dspy.Prediction(), Outcome((task.output,), err.lm_response or "", "the adapter could not parse the reply")
        except Exception as err:  # noqa: BLE001 - DSPy wraps the client's errors; some belong to this example only
            if (failure := found_in(err, ExampleFailure)) is None:
                raise
            reason = f"the prompt does not fit the model's context ({failure})" if isinstance(failure, ContextOverflow) else str(failure)
            prediction, failed = dspy.Prediction(), Outcome((task.output,), "", reason)
        trace = list(dspy.settings.trace) if capture_trace else []
    elapsed = time.perf_counter() - start
    if calls and all(call.cached for call in calls):
        # Answered from the run's cache (an earlier step asked the same): the seconds the server took
        # then, not the lookup's milliseconds (the 'both' arm's latency read 0.004 s that way).
        elapsed = sum(call.latency_s for call in calls)
    answer = failed or answer_outcome(outcomes, task.output)
    score, feedback, parsed, components = score_prediction(task, example, prediction, answer)
    echoes: list[Echo] = list(dict.fromkeys(echo for outcome in outcomes for echo in outcome.echoes))
    if echoes:
        feedback = f"{feedback} {echo_feedback(echoes)}"
    predicted = prediction.get(task.output)
    return ExampleResult(
        id=str(example.get("id")),
        gold=task.gold_label(example),
        predicted=None if predicted is None else str(predicted),
        score=score,
        feedback=feedback,
        parsed=parsed,
        echoes=echoes,
        raw=answer.raw if answer else "",
        calls=len(calls),
        prompt_tokens=sum(c.prompt_tokens for c in calls),
        completion_tokens=sum(c.completion_tokens for c in calls),
        latency_s=elapsed,
        uncalibrated=next((o.uncalibrated for o in reversed(outcomes) if o.uncalibrated), None),
        steps=len(outcomes),
        unparsed_steps=sum(o.parse_error is not None for o in outcomes),
        components=components,
        trace=trace,
    )


def refined_example(
    task: Task, program: dspy.Module, example: dspy.Example, lm: dspy.LM, adapter: dspy.Adapter, attempts: int, capture_trace: bool = False
) -> ExampleResult:
    """Up to `attempts` generations, each retry told the metric's feedback on the one before (the
    idea of dspy.Refine, on the raw path); the best is kept, and its cost is every attempt's cost."""
    tried = [run_example(task, program, example, lm, adapter, capture_trace)]
    while len(tried) < attempts and tried[-1].score < 1.0:
        tried.append(run_example(task, with_feedback(program, tried[-1].feedback), example, lm, adapter, capture_trace))
    best = max(tried, key=lambda result: result.score)
    return replace(
        best,
        calls=sum(r.calls for r in tried),
        prompt_tokens=sum(r.prompt_tokens for r in tried),
        completion_tokens=sum(r.completion_tokens for r in tried),
        latency_s=sum(r.latency_s for r in tried),
        attempts=len(tried),
    )


def task_adapter(task: Task) -> RawTextAdapter:
    """RawTextAdapter whose calibrated formats measure label bias on the task's first training inputs."""
    return RawTextAdapter(calibration_inputs=[e.inputs().toDict() for e in task.split("train")[:CALIBRATION_BATCH]])


def evaluate(
    task: Task,
    program: dspy.Module,
    examples: list[dspy.Example],
    lm: dspy.LM,
    *,
    split: str = "",
    adapter: dspy.Adapter | None = None,
    progress: Progress | None = None,
    capture_traces: bool = False,
    on_result: Callable[[ExampleResult], None] | None = None,
    attempts: int = 1,
) -> EvalResult:
    """Run `program` over `examples` with `lm` (RawTextAdapter unless told otherwise); `on_result`
    hears of each example as it finishes, so a run that stops early keeps them. `attempts` above 1
    retries an imperfect answer with its feedback (`refined_example`)."""
    finished = 0

    def heard(result: ExampleResult) -> None:
        nonlocal finished
        finished += 1
        if on_result:
            on_result(result)
        if progress:
            progress(finished, len(examples))

    adapter = adapter or task_adapter(task)
    results = run_examples(task, program, examples, lm, adapter, attempts=attempts, capture_traces=capture_traces, on_result=heard)
    model = lm.text_model.name if isinstance(lm, SmoloptLM) else lm.model
    return EvalResult(task=task.name, model=model, split=split, examples=results, labels=task.labels)


def run_examples(
    task: Task,
    program: dspy.Module,
    examples: list[dspy.Example],
    lm: dspy.LM,
    adapter: dspy.Adapter,
    *,
    attempts: int = 1,
    capture_traces: bool = False,
    on_result: Callable[[ExampleResult], None] | None = None,
) -> list[ExampleResult]:
    """Every example's result in the examples' order, up to the model's `parallel` at once (one
    for a plain dspy.LM); `on_result` hears of each as it finishes, on the caller's thread."""
    at_once = lm.text_model.parallel if isinstance(lm, SmoloptLM) else 1
    return map_in_order(
        lambda example: refined_example(task, program, example, lm, adapter, attempts, capture_traces),
        examples,
        at_once,
        on_done=(lambda _index, result: on_result(result)) if on_result else None,
    )
