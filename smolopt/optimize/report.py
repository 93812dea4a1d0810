"""The optimize report: before/after with intervals, parts, formats on val, iteration table, prompts side by side.

Numbers come in typed (`OptimizeResult`); every display string is made here, once, as a `Report`
that report.md and the terminal both render (`smolopt.report.markdown`, `smolopt.report.terminal`).
"""

from __future__ import annotations

from smolopt.adapters.formats import SEED
from smolopt.candidate import decode_demos, demos_key, format_key, is_instruction_key
from smolopt.optimize.result import Choice, IterationRow, OptimizeResult
from smolopt.report import Report, Section, notice_facts, pct, points
from smolopt.usage import usage_section

ITERATION_HEADERS = ["candidate", "iteration", "parent", "minibatch (parent → child)", "val", "format", "prompt tokens/call", "demos", "flag"]
SUMMARY_HEADERS = ["Task", "Model", "Baseline", "After", "Change"]
FORMAT_HEADERS = ["format", "best val", "chosen"]
PART_HEADERS = ["part of the score", "baseline", "after", "change"]


def format_rows(result: OptimizeResult) -> list[list[str]]:
    """Each format GEPA evaluated on val, its best score there, and which one the chosen candidate uses."""
    chosen = result.chosen_format
    ranked = sorted(result.format_val.items(), key=lambda item: -item[1])
    return [[label, pct(score), "✓" if label == chosen else ""] for label, score in ranked]


def _minibatch(scores: list[float] | None) -> str:
    return "" if not scores else f"{round(sum(scores), 2):g}/{len(scores)}"


def _flag(row: IterationRow, rule_budget: int | None) -> str:
    return f"+{row.added_sentences} sentences, past the rule budget {rule_budget}" if row.past_rule_budget else ""


def iteration_rows(result: OptimizeResult) -> list[list[str]]:
    return [[
        "baseline" if row.candidate == 0 else str(row.candidate),
        "?" if row.iteration is None else str(row.iteration),
        ", ".join(map(str, row.parents)) or "-",
        f"{_minibatch(row.minibatch_parent)} → {_minibatch(row.minibatch_child)}" if row.minibatch_child else "",
        pct(row.val),
        row.format,
        f"{row.prompt_tokens:.0f}" if row.prompt_tokens is not None else "-",
        str(row.demos),
        _flag(row, result.rule_budget),
    ] for row in result.iterations]


def choice_note(choice: Choice) -> str:
    """Why the shipped candidate ships: the decision rule's reason, and the best's val gain with its interval."""
    if choice.best_on_val == 0:
        return choice.reason
    return (f"{choice.reason}; val gain {100 * choice.val_gain:+.1f} pts "
            f"(paired 95% interval {100 * choice.low:+.1f} to {100 * choice.high:+.1f})")


def summary_rows(result: OptimizeResult) -> list[list[str]]:
    before, after = result.summary_rows()
    change = result.test_change()
    return [[
        result.task,
        result.student,
        f"{pct(before['accuracy'])} [{pct(before['low'])}, {pct(before['high'])}]",
        f"{pct(after['accuracy'])} [{pct(after['low'])}, {pct(after['high'])}]",
        f"{points(change['change'])} pts (paired [{points(change['low'])}, {points(change['high'])}])",
    ]]


def part_rows(result: OptimizeResult) -> list[list[str]]:
    """Each part of a composite metric on test, before and after (the source article's per-component deltas)."""
    before, after = result.baseline_test.component_means(), result.optimized_test.component_means()
    return [
        [name, f"{before[name]:.3f}" if name in before else "-", f"{after[name]:.3f}" if name in after else "-",
         f"{after[name] - before[name]:+.3f}" if name in before and name in after else "-"]
        for name in dict.fromkeys([*before, *after])
    ]


def render_prompt(candidate: dict[str, str], predictor: str) -> str:
    """One predictor's format, instruction and demos as plain text."""
    lines = [f"format: {candidate.get(format_key(predictor), SEED)}", candidate[predictor].strip() or "(empty instruction)"]
    demos = decode_demos(candidate.get(demos_key(predictor), ""))
    for demo in demos:
        shown = ", ".join(f"{k}={str(v)[:60]!r}" for k, v in demo.items() if k != "id")
        lines.append(f"  demo: {shown}")
    return "\n".join(lines)


def prompt_pairs(result: OptimizeResult) -> list[tuple[str, str, str]]:
    """(predictor, baseline prompt, chosen prompt) for every predictor."""
    names = [k for k in result.seed if is_instruction_key(k)]
    return [(name, render_prompt(result.seed, name), render_prompt(result.best, name)) for name in names]


def optimize_report(result: OptimizeResult) -> Report:
    """What an optimization found, for report.md and the terminal alike."""
    before, after = result.summary_rows()
    rejected = result.journal.rejected
    facts = [
        ("proposers", result.reflection_note),
        ("choice", choice_note(result.choice)),
        *notice_facts(result.notices),
        ("budget", f"{result.budget} metric calls; used {result.metric_calls}; LM calls made {result.lm_calls}, "
                   f"served from cache {result.cached_calls}; wall time {result.wall_s:.0f} s"),
        ("proposals", f"{len(result.journal.records)} made, {len(rejected)} rejected by the guards before evaluation"),
        ("demo order (most under-predicted label first)", ", ".join(result.demo_order) or "n/a"),
        ("rule budget from the newest probe of this model and task", "none" if result.rule_budget is None else str(result.rule_budget)),
    ]
    summary_note = (f"The test split was never seen by the optimizer; 95% bootstrap intervals, the change's paired. "
                    f"Parse rate {pct(before['parse_rate'])} → {pct(after['parse_rate'])}; "
                    f"echo rate {pct(before['echo_rate'])} → {pct(after['echo_rate'])}.")
    sections = [
        Section("Test split, baseline and after", SUMMARY_HEADERS, summary_rows(result), summary_note),
        *([Section("Parts of the score (test means)", PART_HEADERS, rows)] if (rows := part_rows(result)) else []),
        Section(f"Formats on val (chosen: {result.chosen_format})", FORMAT_HEADERS, format_rows(result)),
        Section("Accepted candidates", ITERATION_HEADERS, iteration_rows(result)),
        *[Section(f"Prompt: {name}", ["baseline", "chosen"], [[seed_text, best_text]]) for name, seed_text, best_text in prompt_pairs(result)],
        *([Section("Proposals rejected before evaluation", ["component", "proposer", "why"],
                   [[r.component, r.proposer, r.note] for r in rejected])] if rejected else []),
        *([usage_section(result.usage)] if result.usage else []),
    ]
    return Report(f"smolopt optimize: {result.task} on {result.student}", facts, sections)
