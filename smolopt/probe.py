"""The capacity probe: how much prompt a model can take before the prompt stops helping.

For each (model, task) the probe evaluates variants of the task's seed program on a fixed subset of
the val split (the first n examples, so every variant and every model sees the same ones):

- format adherence: the seed under RawTextAdapter, ChatAdapter (no JSON fallback) and JSONAdapter;
- the format axis: the seed asked every way RawTextAdapter can (chat or completion, generated or
  scored, calibrated or not), so the verdict is over the model's best way of being asked;
- instruction load: 0, 1, 2, 4, 8, 16 rules from `task.rules` appended to every instruction;
- few-shot: 0, 1, 2, 4, 8 label-balanced training demos, each in up to 3 orderings;
- prohibition: the seed with "DO NOT repeat the input." appended, against the seed without it;
- echo rates per kind and the seed's label bias, read from those same evaluations.

The seed evaluation is the raw format, the 0-rule and the 0-demo point and the "without
prohibition" side at once, so it runs once. Every variant is planned before any call is made
(`plan_probe`), so the number of evaluations is known up front for a progress bar, and variants
whose prompt would clearly not fit the model's context are skipped in the plan, not discovered by
an HTTP error. The verdict and the rule budget are pure functions over the recorded numbers, so
they can be recomputed, and tested, without a model.

This module computes and returns dataclasses; `smolopt.probe_report` renders them.
"""

from __future__ import annotations

import math
import random
import typing
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import dspy

from smolopt.adapters.echo import EchoKind
from smolopt.errors import SmoloptError
from smolopt.evaluate import EvalResult, Progress, evaluate, task_adapter
from smolopt.prompt_size import estimate_prompt_tokens, prompt_room
from smolopt.adapters.formats import ALL, SEED, Format
from smolopt.adapters import usable_formats
from smolopt.candidate import apply_candidate, demos_key, encode_demos, format_key, is_instruction_key, seed_candidate
from smolopt.registry import ModelSpec
from smolopt.report import pct
from smolopt.tasks import Task

DEFAULT_EXAMPLES = 12
DEFAULT_MARGIN = 0.15
RULE_COUNTS = (0, 1, 2, 4, 8, 16)
DEMO_COUNTS = (0, 1, 2, 4, 8)
ORDERINGS = 3
PROHIBITION = "DO NOT repeat the input."
ECHO_KINDS: tuple[str, ...] = typing.get_args(EchoKind)
PROMPT_PROBLEM = "prompt problem"
CAPACITY_PROBLEM = "capacity problem"
_EPSILON = 1e-9  # accuracies are fractions of n; compare them without float noise

ADAPTERS: dict[str, Callable[[Task], dspy.Adapter]] = {
    "raw": task_adapter,
    "chat": lambda task: dspy.ChatAdapter(use_json_adapter_fallback=False),  # a JSON retry would hide chat-format failures
    "json": lambda task: dspy.JSONAdapter(),
}


@dataclass
class Variant:
    """One planned evaluation: a candidate (instructions + demos) under one adapter."""

    name: str
    group: str  # "seed" | "format" | "ask" | "rules" | "demos" | "prohibition"
    candidate: dict[str, str]
    k: int = 0  # rules or demos added
    ordering: int = 0
    adapter: str = "raw"
    demo_ids: list[str] = field(default_factory=list)
    estimated_prompt_tokens: int = 0
    skipped: str = ""  # why it is not evaluated; empty when it is


@dataclass
class Measurement:
    """The numbers one variant produced (or why it produced none): what the card and verdict read."""

    name: str
    group: str
    k: int = 0
    ordering: int = 0
    adapter: str = "raw"
    accuracy: float = 0.0
    parse_rate: float = 0.0
    echo_rates: dict[str, float] = field(default_factory=dict)  # share of examples with an echo of each kind
    prompt_tokens_per_call: float = 0.0
    estimated_prompt_tokens: int = 0
    predicted: dict[str, int] = field(default_factory=dict)
    gold: dict[str, int] = field(default_factory=dict)
    scores: list[float] = field(default_factory=list)
    demo_ids: list[str] = field(default_factory=list)
    skipped: str = ""

    @property
    def evaluated(self) -> bool:
        return not self.skipped


@dataclass
class DemoPoint:
    """One demo count of the few-shot curve: the spread of accuracy over its orderings."""

    k: int
    orderings: int
    mean: float
    min: float
    max: float
    prompt_tokens_per_call: float
    skipped: str = ""


@dataclass
class Verdict:
    """Prompt problem or capacity problem, with the numbers that decided it."""

    label: str
    best_variant: str
    best_accuracy: float
    chance: float
    baseline: str  # what `chance` is: uniform/majority chance, or the seed accuracy for free-text tasks
    margin: float
    evidence: str


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


# ---- pure functions over recorded numbers ---------------------------------------------------


def rule_budget(curve: Sequence[tuple[int, float]], tolerance: float) -> int:
    """The knee of the instruction-load curve: how many rules the model carries without losing accuracy.

    With the curve's points (k, accuracy) taken in increasing k, a point *holds* when its accuracy
    is within `tolerance` of the best accuracy at any k' <= k (best - accuracy <= tolerance). The
    rule budget is the largest k that holds. Every point after it falls more than `tolerance`
    below the best seen so far; a flat or rising curve holds everywhere, so its budget is the
    largest k measured. A single dip that recovers does not end the budget: at n = 12 one example
    is 8 points, so a lone dip is as likely noise as overload. The tolerance the probe uses is one
    example's worth (1/n). An empty curve has budget 0.
    """
    budget, best = 0, -math.inf
    for k, accuracy in sorted(curve):
        best = max(best, accuracy)
        if best - accuracy <= tolerance + _EPSILON:
            budget = k
    return budget


def chance_level(labels: Sequence[str] | None, gold: dict[str, int], seed_accuracy: float) -> tuple[float, str]:
    """The accuracy a model gets without using the prompt, and what that number is.

    Label tasks: the larger of uniform guessing (1/len(labels)) and always answering the subset's
    most common gold label, because a model stuck on one label (a 135M says "positive" to
    everything) scores the majority share without reading anything; on a balanced subset both
    are 1/len(labels). Free-text tasks have no label to guess, and a partial-credit metric has no
    known floor, so the baseline is the seed's own accuracy: "prompt problem" then means some
    prompt change moved the score by at least the margin.
    """
    if not labels:
        return seed_accuracy, "seed accuracy"
    uniform = 1 / len(labels)
    total = sum(gold.values())
    if total:
        label, count = Counter(gold).most_common(1)[0]
        if count / total > uniform:
            return count / total, f"chance (always '{label}')"
    return uniform, f"chance (1 of {len(labels)} labels)"


def judge(measurements: Sequence[Measurement], chance: float, baseline: str, margin: float = DEFAULT_MARGIN) -> Verdict:
    """PROMPT_PROBLEM when any evaluated variant reaches chance + margin, else CAPACITY_PROBLEM.

    Variants are every prompt the probe tried: formats, rule counts, each demo count and ordering,
    the prohibition line (the seed among them). Reaching the threshold once shows the model can do
    better than guessing when the prompt is right, so prompt search is worth it; when no variant
    does, the model lacks the capacity and a larger model, not a better prompt, is the fix. The
    best of many variants on few examples is optimistic, so the evidence says how many were tried.
    """
    evaluated = [m for m in measurements if m.evaluated]
    if not evaluated:
        raise ValueError("no evaluated variant to judge")
    best = max(evaluated, key=lambda m: m.accuracy)  # the first of equals: the simplest prompt wins ties
    threshold = chance + margin
    bar = f"{baseline} {pct(chance)} + margin {pct(margin)} = {pct(threshold)}"
    tried = f"{len(evaluated)} variants tried"
    if best.accuracy >= threshold - _EPSILON:
        label = PROMPT_PROBLEM
        evidence = f"'{best.name}' reached {pct(best.accuracy)}, at or above {bar} ({tried})"
    else:
        label = CAPACITY_PROBLEM
        evidence = f"no variant reached {bar}; the best, '{best.name}', scored {pct(best.accuracy)} ({tried})"
    return Verdict(label, best.name, best.accuracy, chance, baseline, margin, evidence)


def demo_points(measurements: Sequence[Measurement]) -> list[DemoPoint]:
    """The few-shot curve: per demo count, mean/min/max accuracy over its evaluated orderings."""
    points = []
    for k in sorted({m.k for m in measurements}):
        runs = [m for m in measurements if m.k == k]
        done = [m.accuracy for m in runs if m.evaluated]
        if not done:
            points.append(DemoPoint(k, 0, 0.0, 0.0, 0.0, 0.0, skipped=runs[0].skipped))
            continue
        tokens = [m.prompt_tokens_per_call for m in runs if m.evaluated]
        points.append(DemoPoint(k, len(done), sum(done) / len(done), min(done), max(done), sum(tokens) / len(tokens)))
    return points


@dataclass
class TaskProbe:
    """Every measurement of one (model, task), and the readings derived from them."""

    model: str
    task: str
    n: int
    labels: tuple[str, ...] | None
    context_length: int
    measurements: list[Measurement]
    margin: float = DEFAULT_MARGIN

    def group(self, *names: str) -> list[Measurement]:
        return [m for m in self.measurements if m.group in names]

    @property
    def seed(self) -> Measurement:
        return self.group("seed")[0]

    @property
    def tolerance(self) -> float:
        """One example's worth: the smallest accuracy change the subset can show."""
        return 1 / self.n if self.n else 0.0

    def formats(self) -> list[Measurement]:
        return self.group("seed", "format")

    def format_axis(self) -> list[Measurement]:
        """The seed (chat, generated) and every other way RawTextAdapter asked."""
        return self.group("seed", "ask")

    def rule_curve(self) -> list[Measurement]:
        return self.group("seed", "rules")

    def demo_curve(self) -> list[DemoPoint]:
        return demo_points(self.group("seed", "demos"))

    @property
    def prohibition(self) -> Measurement:
        return self.group("prohibition")[0]

    def rule_budget(self) -> int:
        return rule_budget([(m.k, m.accuracy) for m in self.rule_curve() if m.evaluated], self.tolerance)

    def chance(self) -> tuple[float, str]:
        return chance_level(self.labels, self.seed.gold, self.seed.accuracy)

    def verdict(self) -> Verdict:
        return judge(self.measurements, *self.chance(), margin=self.margin)

    def pooled_echo_rates(self) -> dict[str, float]:
        """Echo rates over every RawTextAdapter evaluation (only that adapter detects echoes)."""
        raw = [m for m in self.measurements if m.evaluated and m.adapter == "raw"]
        return {kind: sum(m.echo_rates.get(kind, 0.0) for m in raw) / len(raw) if raw else 0.0 for kind in ECHO_KINDS}

    def to_json(self) -> dict[str, Any]:
        verdict = self.verdict()
        return {
            "model": self.model,
            "task": self.task,
            "n": self.n,
            "labels": list(self.labels) if self.labels else None,
            "context_length": self.context_length,
            "margin": self.margin,
            "tolerance": self.tolerance,
            "rule_budget": self.rule_budget(),
            "chance": verdict.chance,
            "verdict": asdict(verdict),
            "demo_curve": [asdict(point) for point in self.demo_curve()],
            "pooled_echo_rates": self.pooled_echo_rates(),
            "measurements": [asdict(m) for m in self.measurements],
        }


def results_json(probes: Sequence[TaskProbe]) -> dict[str, Any]:
    """probe.json: every number, plus `rule_budget[model][task]` where `optimize` can look it up."""
    budgets: dict[str, dict[str, int]] = {}
    for probe in probes:
        budgets.setdefault(probe.model, {})[probe.task] = probe.rule_budget()
    return {"rule_budget": budgets, "probes": [probe.to_json() for probe in probes]}


# ---- planning: every variant decided before the first call ---------------------------------


@dataclass
class ProbePlan:
    """What `run_probe` will evaluate for one (model, task), with the progress total known up front."""

    task: Task
    model: str
    context_length: int
    program: dspy.Module
    examples: list[dspy.Example]
    variants: list[Variant]

    @property
    def evaluations(self) -> int:
        return sum(not v.skipped for v in self.variants)

    @property
    def total_steps(self) -> int:
        """Examples to run (what the progress callback counts), over all evaluated variants."""
        return self.evaluations * len(self.examples)


def rule_counts(pool: int) -> list[int]:
    """RULE_COUNTS that the pool can fill, plus the whole pool when it falls between two of them."""
    counts = [k for k in RULE_COUNTS if k <= pool]
    return counts if pool in counts or pool > RULE_COUNTS[-1] else counts + [pool]


def with_lines(candidate: dict[str, str], lines: Sequence[str]) -> dict[str, str]:
    """The candidate with `lines` appended, one per line, to every predictor's instruction."""
    return {key: "\n".join([text.rstrip(), *lines]).strip() if is_instruction_key(key) else text for key, text in candidate.items()}


def balanced_demos(task: Task, k: int) -> list[dspy.Example]:
    """k training examples, round-robin over the labels in the task's label order (file order within a label).

    Balance keeps the demos themselves from teaching a label bias. Free-text tasks take the first
    k training examples. Fewer than k come back when the training split runs out.
    """
    train = task.split("train")
    if not task.labels:
        return train[:k]
    queues = [[e for e in train if task.gold_label(e) == label] for label in task.labels]
    picked: list[dspy.Example] = []
    while len(picked) < k and any(queues):
        for queue in queues:
            if queue and len(picked) < k:
                picked.append(queue.pop(0))
    return picked


def orderings(count: int, wanted: int = ORDERINGS) -> list[tuple[int, ...]]:
    """Up to `wanted` distinct permutations of range(count): the selection order, then seeded shuffles.

    Distinct, because k=1 has one ordering and k=2 two; repeating one would only re-measure it.
    """
    found = [tuple(range(count))]
    seed = 1
    while len(found) < min(wanted, math.factorial(count)):
        order = list(range(count))
        random.Random(seed).shuffle(order)
        if tuple(order) not in found:
            found.append(tuple(order))
        seed += 1
    return found


def usable_formats_of(program: dspy.Module) -> list[Format]:
    """Formats every predictor of the program can use (scored ones only when all answer with labels)."""
    usable = [set(usable_formats(predictor.signature)) for _, predictor in program.named_predictors()]
    return [fmt for fmt in ALL if all(fmt in each for each in usable)]


def with_format(candidate: dict[str, str], program: dspy.Module, fmt: Format) -> dict[str, str]:
    """The candidate with every predictor asked in `fmt`."""
    return {**candidate, **{format_key(name): str(fmt) for name, _ in program.named_predictors()}}


def with_demos(candidate: dict[str, str], program: dspy.Module, task: Task, examples: Sequence[dspy.Example]) -> dict[str, str]:
    """The candidate with each predictor's demos replaced by what `examples` give it (task.demo_for)."""
    built = dict(candidate)
    for name, _ in program.named_predictors():
        demos = [demo for example in examples if (demo := task.demo_for(example, name)) is not None]
        built[demos_key(name)] = encode_demos(demos)
    return built


def _variants(task: Task, program: dspy.Module) -> list[Variant]:
    """Every variant of the probe, in the order they run (the seed first: it anchors every curve)."""
    seed = seed_candidate(program)
    variants = [Variant("seed", "seed", seed)]
    variants += [Variant(f"format {name}", "format", seed, adapter=name) for name in ADAPTERS if name != "raw"]
    variants += [Variant(f"ask {fmt}", "ask", with_format(seed, program, fmt)) for fmt in usable_formats_of(program) if fmt != SEED]
    variants += [Variant(f"rules {k}", "rules", with_lines(seed, task.rules[:k]), k=k) for k in rule_counts(len(task.rules)) if k]
    for k in DEMO_COUNTS[1:]:
        picked = balanced_demos(task, k)
        if len(picked) < k:
            variants.append(Variant(f"demos {k}", "demos", seed, k=k, skipped=f"only {len(picked)} training examples"))
            continue
        for index, order in enumerate(orderings(k)):
            ordered = [picked[i] for i in order]
            variants.append(Variant(
                f"demos {k} order {index + 1}", "demos", with_demos(seed, program, task, ordered),
                k=k, ordering=index + 1, demo_ids=[str(e.get("id")) for e in ordered],
            ))
    variants.append(Variant("prohibition line", "prohibition", with_lines(seed, [PROHIBITION])))
    return variants


def plan_probe(task: Task, spec: ModelSpec, n: int = DEFAULT_EXAMPLES) -> ProbePlan:
    """All variants for `spec` on `task`, each sized against the model's context.

    A variant is skipped when its estimated prompt plus the model's answer budget (max_tokens)
    exceeds `context_length`: a server asked for more than its context answers with an error,
    and the few-shot curve is still readable without its longest point.
    """
    if n < 1:
        raise SmoloptError(f"--examples must be at least 1 (got {n})")
    program = task.program()
    examples = task.split("val")[:n]
    variants = _variants(task, program)
    for variant in variants:
        if variant.skipped:
            continue
        built = apply_candidate(program, variant.candidate)
        variant.estimated_prompt_tokens = estimate_prompt_tokens(built, ADAPTERS[variant.adapter](task), examples)
        if variant.estimated_prompt_tokens > prompt_room(spec):
            variant.skipped = (
                f"about {variant.estimated_prompt_tokens} prompt tokens + {spec.max_tokens} to answer "
                f"exceed the {spec.context_length}-token context"
            )
    return ProbePlan(task, spec.name, spec.context_length, program, examples, variants)


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
