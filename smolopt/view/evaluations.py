"""The evaluations inside a results.json, as the evaluation core's own types.

An eval run's results.json is one evaluation ({"summary", "examples"}); an optimize run's holds
two (`baseline_test`, `optimized_test`), and any later key of the same shape (an arm of a weights
comparison) is found the same way. Each becomes an `EvalResult`, so the view's summary rows are
the report layer's (`smolopt.report.eval_rows`) and its numbers the core's.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from typing import Any

from smolopt.adapters import Echo
from smolopt.evaluation import EvalResult, ExampleResult

EXAMPLE_FIELDS = {f.name for f in fields(ExampleResult)} - {"trace"}
REQUIRED = [f.name for f in fields(ExampleResult) if f.default is MISSING and f.default_factory is MISSING]


class Unreadable(ValueError):
    """results.json is JSON but not the shape smolopt writes; the message says where."""


def example_result(row: Any, where: str) -> ExampleResult:
    """One example as results.json keeps it; a missing field or a wrong type is Unreadable, never a default."""
    if not isinstance(row, dict):
        raise Unreadable(f"{where}: expected an object, found {type(row).__name__}")
    if missing := [key for key in REQUIRED if key not in row]:
        raise Unreadable(f"{where}: missing {', '.join(missing)}")
    if not isinstance(row["score"], int | float) or not isinstance(row["echoes"], list):
        raise Unreadable(f"{where}: 'score' must be a number and 'echoes' a list")
    try:
        echoes = [Echo(echo["kind"], echo["line"]) for echo in row["echoes"]]
    except (TypeError, KeyError):
        raise Unreadable(f"{where}: each echo needs 'kind' and 'line'") from None
    kept = {key: value for key, value in row.items() if key in EXAMPLE_FIELDS}
    return ExampleResult(**{**kept, "id": str(row["id"]), "echoes": echoes})


def evaluation(data: dict[str, Any], name: str, labels: tuple[str, ...] | None) -> EvalResult:
    examples = data["examples"]
    summary = data.get("summary") if isinstance(data.get("summary"), dict) else {}
    rows = [example_result(row, f"{name} example {number}") for number, row in enumerate(examples, start=1)]
    return EvalResult(task=str(summary.get("task", "")), model=str(summary.get("model", "")), split=str(summary.get("split", name)),
                      examples=rows, labels=labels)


def is_evaluation(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("examples"), list)


def evaluations(results: Any, labels: tuple[str, ...] | None) -> dict[str, EvalResult]:
    """Name → EvalResult for every evaluation in a results.json (raises Unreadable on a bad shape)."""
    if not isinstance(results, dict):
        raise Unreadable(f"expected a JSON object, found {type(results).__name__}")
    found: dict[str, EvalResult] = {}
    if is_evaluation(results):
        found[str((results.get("summary") or {}).get("split") or "examples")] = evaluation(results, "examples", labels)
    for key, value in results.items():
        if is_evaluation(value):
            found[key] = evaluation(value, key, labels)
    return found


@dataclass(frozen=True)
class Filters:
    """Which examples the examples table shows."""

    failures: bool = False  # score below 1
    echoes: bool = False
    unparsed: bool = False
    label: str = ""  # gold label

    def keep(self, example: ExampleResult) -> bool:
        return ((not self.failures or example.score < 1.0) and (not self.echoes or bool(example.echoes))
                and (not self.unparsed or not example.parsed) and (not self.label or example.gold == self.label))


@dataclass(frozen=True)
class Flip:
    """One example in both evaluations of a comparison, with both scores."""

    id: str
    before: ExampleResult
    after: ExampleResult

    @property
    def change(self) -> float:
        return self.after.score - self.before.score


@dataclass
class Comparison:
    """The same examples in two evaluations: which improved, which got worse, what only one has."""

    flips: list[Flip]
    only_before: list[str]
    only_after: list[str]

    @property
    def better(self) -> list[Flip]:
        return [flip for flip in self.flips if flip.change > 0]

    @property
    def worse(self) -> list[Flip]:
        return [flip for flip in self.flips if flip.change < 0]

    @property
    def same(self) -> int:
        return sum(flip.change == 0 for flip in self.flips)


def compare(before: EvalResult, after: EvalResult) -> Comparison:
    later = {example.id: example for example in after.examples}
    earlier = {example.id: example for example in before.examples}
    flips = [Flip(example.id, example, later[example.id]) for example in before.examples if example.id in later]
    return Comparison(flips, [i for i in earlier if i not in later], [i for i in later if i not in earlier])
