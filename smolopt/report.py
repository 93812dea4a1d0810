"""Rendering: results in, rich tables and Markdown out. Nothing here computes a number."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from rich.table import Table

from smolopt.evaluation import EvalResult


def pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def distribution(result: EvalResult, predicted: Counter | None = None) -> str:
    """'positive 18 (gold 8) · negative 3 (gold 8) …': the bias at a glance (of `predicted`, default the answers)."""
    predicted, gold = predicted or result.predicted_distribution(), result.gold_distribution()
    keys = list(result.labels or []) + sorted(k for k in predicted if k not in (result.labels or []))
    if not result.labels:  # free-text answers: the distribution is only the unparsed share
        return f"unparsed {predicted.get('(unparsed)', 0)} of {result.n}"
    return " · ".join(f"{k} {predicted.get(k, 0)} (gold {gold.get(k, 0)})" for k in keys if predicted.get(k) or gold.get(k))


def offers_cell(declared: Sequence[str], found: dict[str, bool] | None) -> str:
    """'chat, completions, logprobs', plus what a check found where it differs ('logprobs: declared, not found')."""
    shown = ", ".join(declared)
    if found is None:
        return shown
    surprises = [f"{name}: {'found, not declared' if ok else 'declared, not found'}" for name, ok in found.items() if ok != (name in declared)]
    return f"{shown} (checked{': ' + '; '.join(surprises) if surprises else ', as declared'})"


def eval_rows(result: EvalResult) -> list[tuple[str, str]]:
    echo_counts = ", ".join(f"{k} {v}" for k, v in sorted(result.echo_counts().items())) or "none"
    return [
        ("examples", str(result.n)),
        ("accuracy", pct(result.accuracy)),
        ("parse rate", pct(result.parse_rate)),
        *([("parse rate, every step", pct(result.step_parse_rate))] if sum(e.steps for e in result.examples) > result.n else []),
        ("echo rate", f"{pct(result.echo_rate)} ({echo_counts})"),
        ("labels predicted", distribution(result)),
        *([("labels before calibration", distribution(result, before))] if (before := result.uncalibrated_distribution()) else []),
        ("LM calls / example", f"{result.calls_per_example:.2f}"),
        ("prompt tokens / call", f"{result.per_call('prompt_tokens'):.0f}"),
        ("completion tokens / call", f"{result.per_call('completion_tokens'):.1f}"),
        ("median latency / example", f"{result.median_latency_s:.2f} s"),
        *([("generations / example", f"{attempts:.2f}")] if (attempts := result.summary()["attempts_per_example"]) > 1 else []),
        *[(f"part: {name}", f"{value:.3f}") for name, value in result.component_means().items()],
    ]


def eval_table(result: EvalResult) -> Table:
    table = Table(title=f"{result.task} · {result.model} · {result.split}", show_header=False)
    table.add_column("metric", style="bold")
    table.add_column("value")
    for name, value in eval_rows(result):
        table.add_row(name, value)
    return table


def rich_table(title: str, headers: Sequence[str], rows: Iterable[Sequence[object]]) -> Table:
    table = Table(title=title)
    for header in headers:
        table.add_column(header)
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    return table


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell).replace("|", "\\|").replace("\n", " ") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def outputs_markdown(result: EvalResult) -> str:
    """outputs.md for a free-text task: every text the model wrote, with its score, parts and feedback."""
    lines = [f"# {result.task} · {result.model} · {result.split}: what the model wrote", ""]
    for example in result.examples:
        parts = ", ".join(f"{name} {value:.3f}" for name, value in example.components.items())
        lines += [f"## {example.id}: score {example.score:.3f}" + (f" ({parts})" if parts else ""), ""]
        lines += [example.predicted or "(nothing readable)", "", f"> {example.feedback.replace(chr(10), ' ')}", ""]
    return "\n".join(lines)
