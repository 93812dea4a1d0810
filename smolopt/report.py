"""Rendering: results in, rich tables and Markdown out. Nothing here computes a number.

A command's report is laid out once, as a `Report`: a title, facts ("name: text" lines, notices
among them) and sections (title, headers, rows, an optional note). `markdown(report)` writes it
to report.md and `terminal(report)` prints the same for the terminal, so the two cannot drift.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text

from smolopt.evaluation import EvalResult


@dataclass(frozen=True)
class Section:
    """One table of a report, with a note that follows it (a caption in the terminal)."""

    title: str
    headers: Sequence[str]
    rows: Sequence[Sequence[object]]
    note: str = ""


@dataclass(frozen=True)
class Report:
    """What a command tells its user: a title, "name: text" facts, then its sections in order."""

    title: str
    facts: Sequence[tuple[str, str]] = ()
    sections: Sequence[Section] = field(default_factory=tuple)


def notice_facts(notices: Iterable[str]) -> list[tuple[str, str]]:
    """What a run must tell its user once (a server without logprobs, a format that fell back, a missing judge)."""
    return [("notice", text) for text in notices]


def markdown(report: Report) -> str:
    """report.md: the title as a heading, the facts as a list, each section as a titled table."""
    lines = [f"# {report.title}", "", *(f"- {name}: {text}" for name, text in report.facts)]
    for section in report.sections:
        lines += ["", section_markdown(section)]
    return "\n".join(lines) + "\n"


def section_markdown(section: Section) -> str:
    """One section of report.md: its title as a heading, its table, its note."""
    return "\n".join([f"## {section.title}", "", markdown_table(section.headers, section.rows), *(["", section.note] if section.note else [])])


def terminal(report: Report) -> list[RenderableType]:
    """The same report for a rich console: the title, the facts as lines, each section as a table."""
    lines: list[RenderableType] = [Text(report.title, style="bold")]
    lines += [Text.assemble((f"{name}: ", "bold"), text) for name, text in report.facts]
    return lines + [section_table(section) for section in report.sections]


def section_table(section: Section) -> Table:
    """One section as a rich table, its note as the caption."""
    return rich_table(section.title, section.headers, section.rows, caption=section.note)


def score_name(labels: Sequence[str] | None) -> str:
    """What a mean score is called: accuracy on a label task, "mean score" on a free-text one (a story's weighted parts)."""
    return "accuracy" if labels else "mean score"


def pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def points(fraction: float) -> str:
    """A change between two shares, in percentage points with its sign."""
    return f"{100 * fraction:+.1f}"


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


def kind_cell(variant: str | None, chat_template: bool | None) -> str:
    """'base, no chat template', 'instruct, chat template'; what is not known is left out ('?' when nothing is)."""
    template = {True: "chat template", False: "no chat template", None: ""}[chat_template]
    return ", ".join(part for part in (variant or "", template) if part) or "?"


def eval_rows(result: EvalResult) -> list[tuple[str, str]]:
    echo_counts = ", ".join(f"{k} {v}" for k, v in sorted(result.echo_counts().items())) or "none"
    return [
        ("examples", str(result.n)),
        (score_name(result.labels), pct(result.accuracy)),
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


def eval_report(result: EvalResult, notices: Sequence[str], outputs: str | None = None) -> Report:
    """`smolopt eval`'s report: the numbers of one evaluation, its notices, and where the texts are."""
    facts = notice_facts(notices) + ([("outputs", f"every text written, with its score and feedback: {outputs}")] if outputs else [])
    section = Section(f"{result.task} · {result.model} · {result.split}", ["measure", "value"], eval_rows(result))
    return Report(f"smolopt eval: {result.task} on {result.model}", facts, [section])


def rich_table(title: str, headers: Sequence[str], rows: Iterable[Sequence[object]], caption: str = "") -> RenderableType:
    """A table of plain text (a prompt's "[...]" is shown, never read as markup) that never cuts a cell."""
    return FittedTable(title, tuple(headers), tuple(tuple(str(cell) for cell in row) for row in rows), caption)


@dataclass(frozen=True)
class FittedTable:
    """A table laid out for the width it is printed in, with no word cut: rich alone shrinks the
    widest columns and ends cells with "…" (the probe's 11-column card at 80 columns read "66.…",
    "wei…"). Each column gets at least its longest word, so numbers and verdicts stay whole and text
    wraps at spaces; when even that is too wide, each row is printed as "column: value" lines."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # rich's default box: a border left, right and between columns, one space of padding each side of a cell
        spans = [text_span([header, *(row[index] for row in self.rows)]) for index, header in enumerate(self.headers)]
        widths = fitted_widths(spans, options.max_width - 3 * len(self.headers) - 1)
        yield self.table(widths) if widths is not None else self.blocks()

    def table(self, widths: list[int]) -> Table:
        table = Table(title=Text(self.title), caption=Text(self.caption) if self.caption else None)
        for header, width in zip(self.headers, widths):
            table.add_column(header, width=width)
        for row in self.rows:
            table.add_row(*(Text(cell) for cell in row))
        return table

    def blocks(self) -> Text:
        """The table as one block of "column: value" lines per row (empty cells left out), rows apart by a blank line."""
        lines = [Text(self.title, style="bold")]
        for row in self.rows:
            lines += [Text(""), *(Text.assemble((f"{header}: ", "bold"), cell) for header, cell in zip(self.headers, row) if cell)]
        if self.caption:
            lines += [Text(""), Text(self.caption)]
        return Text("\n").join(lines)


def text_span(cells: Sequence[str]) -> tuple[int, int]:
    """(longest word, longest line) over the cells, in terminal cells, as rich measures text."""
    words = [cell_len(word) for cell in cells for word in cell.split()]
    lines = [cell_len(line) for cell in cells for line in cell.splitlines()]
    return max(words, default=0), max(lines, default=0)


def fitted_widths(spans: Sequence[tuple[int, int]], room: int) -> list[int] | None:
    """Column widths within `room` that break no word: each column its longest line when all fit,
    else its longest word plus a share of the rest in proportion to how much wider its longest line
    is; None when the longest words alone do not fit."""
    least = [max(word, 1) for word, _ in spans]
    wants = [max(line - word, 0) for word, (_, line) in zip(least, spans)]
    spare = room - sum(least)
    if spare < 0:
        return None
    if spare >= sum(wants):
        return [word + want for word, want in zip(least, wants)]
    return [word + spare * want // sum(wants) for word, want in zip(least, wants)]


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub table; a cell's line breaks become <br>, so a prompt keeps its lines."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell).replace("|", "\\|").replace("\n", "<br>") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def outputs_markdown(result: EvalResult) -> str:
    """outputs.md for a free-text task: every text the model wrote, with its score, parts and feedback."""
    lines = [f"# {result.task} · {result.model} · {result.split}: what the model wrote", ""]
    for example in result.examples:
        parts = ", ".join(f"{name} {value:.3f}" for name, value in example.components.items())
        lines += [f"## {example.id}: score {example.score:.3f}" + (f" ({parts})" if parts else ""), ""]
        lines += [example.predicted or "(nothing readable)", "", f"> {example.feedback.replace(chr(10), ' ')}", ""]
    return "\n".join(lines)
