"""The probe's record and its readings: measurements in, rule budget, few-shot curve and verdict out.

Pure functions over recorded numbers, so they can be recomputed, and tested, without a model.
"""

from __future__ import annotations

import math
import typing
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from smolopt.adapters.echo import EchoKind
from smolopt.report import pct

DEFAULT_MARGIN = 0.15
ECHO_KINDS: tuple[str, ...] = typing.get_args(EchoKind)
PROMPT_PROBLEM = "prompt problem"
WEIGHTS_PROBLEM = "weights problem"
CAPACITY_PROBLEM = "capacity problem"
WEIGHTS = "weights"  # the group of the short-tune measurement: not a prompt
_EPSILON = 1e-9  # accuracies are fractions of n; compare them without float noise


@dataclass
class Measurement:
    """The numbers one variant produced (or why it produced none): what the card and verdict read."""

    name: str
    group: str
    format: str = ""  # how RawTextAdapter asked ("completion score calibrated"), every predictor alike
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
    """Prompt, weights or capacity problem, with the numbers that decided it."""

    label: str
    best_variant: str
    best_accuracy: float
    chance: float
    baseline: str  # what `chance` is: uniform/majority chance, or the seed accuracy for free-text tasks
    margin: float
    evidence: str


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
    """PROMPT_PROBLEM when any evaluated prompt variant reaches chance + margin; else WEIGHTS_PROBLEM
    when the short LoRA tune (group "weights") does; else CAPACITY_PROBLEM.

    Prompt variants are every prompt the probe tried: formats, rule counts, each demo count and
    ordering, the prohibition line (the seed among them). Reaching the threshold once shows the
    model can do better than guessing when the prompt is right, so prompt search is worth it. When
    no prompt does but tuned weights do, the model can learn the task and a tune is the fix (agent
    monitoring on the 135M: every prompt 12.5-37.5%, a LoRA on 20 traces 68.8%); when neither
    does, a larger model is. The best of many variants on few examples is optimistic, so the
    evidence says how many were tried.
    """
    evaluated = [m for m in measurements if m.evaluated and m.group != WEIGHTS]
    if not evaluated:
        raise ValueError("no evaluated variant to judge")
    best = max(evaluated, key=lambda m: m.accuracy)  # the first of equals: the simplest prompt wins ties
    threshold = chance + margin
    bar = f"{baseline} {pct(chance)} + margin {pct(margin)} = {pct(threshold)}"
    tried = f"{len(evaluated)} prompt variants tried"
    if best.accuracy >= threshold - _EPSILON:
        evidence = f"'{best.name}' reached {pct(best.accuracy)}, at or above {bar} ({tried})"
        return Verdict(PROMPT_PROBLEM, best.name, best.accuracy, chance, baseline, margin, evidence)
    missed = f"no prompt reached {bar}; the best, '{best.name}', scored {pct(best.accuracy)} ({tried})"
    tuned = [m for m in measurements if m.evaluated and m.group == WEIGHTS]
    if tuned and (weights := max(tuned, key=lambda m: m.accuracy)).accuracy >= threshold - _EPSILON:
        return Verdict(WEIGHTS_PROBLEM, weights.name, weights.accuracy, chance, baseline, margin,
                       f"{missed}, but '{weights.name}' reached {pct(weights.accuracy)}")
    weights_note = f"; '{tuned[0].name}' scored {pct(tuned[0].accuracy)}" if tuned else "; weights were not tried"
    return Verdict(CAPACITY_PROBLEM, best.name, best.accuracy, chance, baseline, margin, missed + weights_note)


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

    def weights(self) -> Measurement | None:
        """The short tune's measurement, when the probe ran one."""
        return next(iter(self.group(WEIGHTS)), None)

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
