"""The capacity card: recorded probe numbers in, card.md and PNG plots out. Nothing here measures.

One section per (model, task): verdict and rule budget first (what a reader acts on), then the
tables behind them and two plots. When more than one (model, task) was probed, a side-by-side
table opens the card; the CLI prints the same `summary_section` with rich. A free-text task's
mean score is called "mean score", a label task's "accuracy" (`smolopt.report.score_name`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure  # a bare Figure renders through Agg: no pyplot state, no display

from smolopt.probe.verdict import ECHO_KINDS, Measurement, TaskProbe
from smolopt.report import Section, markdown_table, pct, score_name

SUMMARY_HEADERS = (
    "model", "task", "seed accuracy", "parse raw", "parse chat", "parse json",
    "rule budget", "best few-shot", "prohibition echo", "short tune", "verdict",
)


def slug(text: str) -> str:
    """A file-name-safe form of a model or task name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def plot_names(probe: TaskProbe) -> tuple[str, str]:
    """File names (inside the run directory) of the instruction-load and few-shot plots."""
    stem = f"{slug(probe.model)}-{slug(probe.task)}"
    return f"instruction-load-{stem}.png", f"few-shot-{stem}.png"


def _parse(m: Measurement) -> str:
    return pct(m.parse_rate) if m.evaluated else "skipped"


def best_few_shot(probe: TaskProbe) -> str:
    """The demo count with the best mean accuracy, as 'mean @ k demos'."""
    points = [p for p in probe.demo_curve() if p.orderings]
    best = max(points, key=lambda p: p.mean)
    return f"{pct(best.mean)} @ {best.k}"


def summary_section(probes: Sequence[TaskProbe]) -> Section:
    """The side-by-side table: one row per (model, task)."""
    return Section("capacity card", SUMMARY_HEADERS, [summary_row(probe) for probe in probes])


def summary_row(probe: TaskProbe) -> tuple[str, ...]:
    """One row of the side-by-side table."""
    formats = {m.adapter: m for m in probe.formats()}
    return (
        probe.model,
        probe.task,
        pct(probe.seed.accuracy),
        *(_parse(formats[name]) for name in ("raw", "chat", "json")),
        str(probe.rule_budget()),
        best_few_shot(probe),
        pct(probe.prohibition.echo_rates.get("prohibition", 0.0)) if probe.prohibition.evaluated else "skipped",
        weights_cell(probe),
        probe.verdict().label,
    )


def weights_cell(probe: TaskProbe) -> str:
    """The short tune's score: a number, "skipped" (with the reason in the section), or "not tried"."""
    weights = probe.weights()
    if weights is None:
        return "not tried"
    return pct(weights.accuracy) if weights.evaluated else "skipped"


def _accuracy(m: Measurement) -> str:
    return pct(m.accuracy) if m.evaluated else f"skipped: {m.skipped}"


def format_table(probe: TaskProbe) -> str:
    rows = [
        (m.adapter + (" (seed)" if m.group == "seed" else ""), _parse(m), _accuracy(m),
         f"{m.prompt_tokens_per_call:.0f}" if m.evaluated else "")
        for m in probe.formats()
    ]
    return markdown_table(["adapter", "parse rate", score_name(probe.labels), "prompt tokens / call"], rows)


def format_axis_table(probe: TaskProbe) -> str:
    rows = [
        (m.format + (" (seed)" if m.group == "seed" else ""),
         _accuracy(m), _parse(m), f"{m.prompt_tokens_per_call:.0f}" if m.evaluated else "")
        for m in probe.format_axis()
    ]
    return markdown_table(["format", score_name(probe.labels), "parse rate", "prompt tokens / call"], rows)


def load_table(probe: TaskProbe) -> str:
    budget = probe.rule_budget()
    rows = [
        (str(m.k) + (" ← rule budget" if m.k == budget else ""), _accuracy(m), _parse(m),
         f"{m.prompt_tokens_per_call:.0f}" if m.evaluated else "", str(m.estimated_prompt_tokens))
        for m in probe.rule_curve()
    ]
    return markdown_table(["rules", score_name(probe.labels), "parse rate", "prompt tokens / call", "estimated prompt tokens"], rows)


def few_shot_table(probe: TaskProbe) -> str:
    rows = []
    for p in probe.demo_curve():
        if p.orderings:
            rows.append((p.k, p.orderings, pct(p.mean), pct(p.min), pct(p.max), f"{p.prompt_tokens_per_call:.0f}"))
        else:
            rows.append((p.k, 0, f"skipped: {p.skipped}", "", "", ""))
    return markdown_table(["demos", "orderings", f"{score_name(probe.labels)} (mean over orderings)", "min", "max", "prompt tokens / call"], rows)


def echo_table(probe: TaskProbe) -> str:
    """The seed with and without the prohibition line, and all RawTextAdapter evaluations pooled."""
    with_line = probe.prohibition
    rows = [("seed (no prohibition)", *(pct(probe.seed.echo_rates.get(k, 0.0)) for k in ECHO_KINDS))]
    if with_line.evaluated:
        rows.append(("seed + \"DO NOT repeat the input.\"", *(pct(with_line.echo_rates.get(k, 0.0)) for k in ECHO_KINDS)))
    else:
        rows.append(("seed + \"DO NOT repeat the input.\"", f"skipped: {with_line.skipped}", "", "", ""))
    rows.append(("all raw-text evaluations", *(pct(v) for v in probe.pooled_echo_rates().values())))
    return markdown_table(["evaluation", *ECHO_KINDS], rows)


def bias_table(probe: TaskProbe) -> str:
    """Seed predictions against gold, label by label (free-text tasks: only the unparsed count means anything)."""
    seed = probe.seed
    keys = list(probe.labels or []) + sorted(k for k in seed.predicted if k not in (probe.labels or []))
    if not probe.labels:
        keys = ["(unparsed)"]
    rows = [(key, seed.predicted.get(key, 0), seed.gold.get(key, 0) if probe.labels else "") for key in keys]
    return markdown_table(["label", "predicted", "gold"], rows)


def curve_axes(probe: TaskProbe, ks: Sequence[int]):
    """A figure whose x axis shows the counts (0, 1, 2, 4, 8, 16) at even steps, with chance drawn in.

    Returns (figure, axes, x positions)."""
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.add_subplot()
    positions = list(range(len(ks)))
    ax.set_xticks(positions, labels=[str(k) for k in ks])
    chance, baseline = probe.chance()
    ax.axhline(chance, color="gray", linestyle=":", label=baseline)
    return fig, ax, positions


def plot_instruction_load(probe: TaskProbe, path: Path) -> Path:
    """Accuracy (left axis) and prompt tokens per call (right axis) against rule count, knee marked."""
    points = [m for m in probe.rule_curve() if m.evaluated]
    ks = [m.k for m in points]
    fig, ax, xs = curve_axes(probe, ks)
    name = score_name(probe.labels)
    ax.plot(xs, [m.accuracy for m in points], "o-", color="tab:blue", label=name)
    ax.set_xlabel("rules appended to the instruction")
    ax.set_ylabel(name, color="tab:blue")
    ax.set_ylim(0, 1.05)
    budget = probe.rule_budget()
    ax.axvline(xs[ks.index(budget)], color="tab:red", linestyle="--", label=f"rule budget = {budget}")
    tokens = ax.twinx()
    tokens.plot(xs, [m.prompt_tokens_per_call for m in points], "s--", color="tab:orange", label="prompt tokens / call")
    tokens.set_ylabel("prompt tokens / call", color="tab:orange")
    tokens.set_ylim(bottom=0)
    handles = ax.get_legend_handles_labels()[0] + tokens.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="lower left", fontsize="small")
    ax.set_title(f"instruction load · {probe.model} · {probe.task}")
    fig.savefig(path, dpi=100)
    return path


def plot_few_shot(probe: TaskProbe, path: Path) -> Path:
    """Mean accuracy against demo count, with the min–max band over orderings."""
    points = [p for p in probe.demo_curve() if p.orderings]
    ks = [p.k for p in points]
    fig, ax, xs = curve_axes(probe, ks)
    ax.fill_between(xs, [p.min for p in points], [p.max for p in points], color="tab:green", alpha=0.25, label="min–max over orderings")
    name = score_name(probe.labels)
    ax.plot(xs, [p.mean for p in points], "o-", color="tab:green", label=f"{name} (mean over orderings)")
    ax.set_xlabel("demos")
    ax.set_ylabel(name)
    ax.set_ylim(0, 1.05)
    ax.legend(loc="lower left", fontsize="small")
    ax.set_title(f"few-shot · {probe.model} · {probe.task}")
    fig.savefig(path, dpi=100)
    return path


def weights_line(probe: TaskProbe) -> str:
    weights = probe.weights()
    if weights is None:
        return "Not tried (`--no-weights`)."
    return f"{weights.name}, asked '{weights.format}': {_accuracy(weights)} against {pct(probe.seed.accuracy)} for the seed prompt."


def section(probe: TaskProbe) -> str:
    """The Markdown of one (model, task)."""
    verdict = probe.verdict()
    load_png, few_png = plot_names(probe)
    return "\n\n".join([
        f"## {probe.model} · {probe.task}",
        f"{probe.n} val examples (the first {probe.n}), context {probe.context_length} tokens.",
        f"**Verdict: {verdict.label}** — {verdict.evidence}.",
        f"**Rule budget: {probe.rule_budget()}** (the most rules whose accuracy stays within one example "
        f"({pct(probe.tolerance)}) of the best at fewer rules).",
        "### Format adherence", format_table(probe),
        "### Format axis (how RawTextAdapter asks)", format_axis_table(probe),
        "### Instruction load", load_table(probe), f"![instruction load]({load_png})",
        "### Few-shot", few_shot_table(probe), f"![few-shot]({few_png})",
        "### Weights (a short LoRA tune of the seed program)", weights_line(probe),
        "### Echo rates (share of examples)", echo_table(probe),
        "### Bias (seed, RawTextAdapter)", bias_table(probe),
    ])


def card_markdown(probes: Sequence[TaskProbe]) -> str:
    """The whole card; the side-by-side table leads when more than one (model, task) was probed."""
    parts = ["# Capacity card"]
    if len(probes) > 1:
        summary = summary_section(probes)
        parts.append(markdown_table(summary.headers, summary.rows))
    parts += [section(p) for p in probes]
    return "\n\n".join(parts) + "\n"


def write_card(probes: Sequence[TaskProbe], directory: Path) -> Path:
    """Write both plots of every probe and card.md into `directory`; returns card.md's path."""
    for probe in probes:
        load_png, few_png = plot_names(probe)
        plot_instruction_load(probe, directory / load_png)
        plot_few_shot(probe, directory / few_png)
    card = directory / "card.md"
    card.write_text(card_markdown(probes), encoding="utf-8")
    return card
