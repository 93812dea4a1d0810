"""`smolopt optimize`: arguments in, run directory and tables out."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from smolopt.cli.console import console, print_notices, progress_line
from smolopt.cli.flags import chosen_judge, refuse_with_resume, registry_reflection


def add_parser(sub) -> None:
    op = sub.add_parser("optimize", help="optimize a task's prompts for a student model with GEPA")
    op.add_argument("task", nargs="?", help="task name (not needed with --resume)")
    op.add_argument("--model", default=None, help="student model (default: the registry's default student)")
    op.add_argument("--reflection", default=None, help="reflection model (default: the registry's [defaults] reflection; 'none' for few-shot injection only)")
    op.add_argument("--judge", default=None, help="judge model of a judged task such as story (default: the registry's [defaults] reflection; 'none' leaves the judge's parts out)")
    op.add_argument("--budget", default=None, help="light, medium, heavy (10, 20, 40 validation passes) or a number of metric calls")
    op.add_argument("--seed", type=int, default=None, help="random seed of the search (default 0)")
    op.add_argument("--resume", type=Path, default=None, help="continue runs/<id>: finished calls come from its cache")
    op.add_argument("--quiet", action="store_true", help="no progress bar, no tables (the report is still written)")
    op.set_defaults(func=cmd_optimize)


def cmd_optimize(args: argparse.Namespace) -> int:
    """Arguments in; the library's Optimizer runs; the report layer's tables out."""
    from rich.markup import escape

    from smolopt.api import Optimizer
    from smolopt.errors import SmoloptError
    from smolopt.optimize.report import (
        FORMAT_HEADERS, ITERATION_HEADERS, PART_HEADERS, SUMMARY_HEADERS, choice_note, format_rows, iteration_rows, part_rows, prompt_pairs,
        summary_rows,
    )
    from smolopt.probe.budget import probed_rule_budget
    from smolopt.report import rich_table
    from smolopt.tasks import load_task

    if args.resume:
        refuse_with_resume(args.resume, {"TASK": args.task, "--model": args.model, "--reflection": args.reflection, "--judge": args.judge,
                                         "--budget": args.budget, "--seed": args.seed})
        optimizer, task, run = Optimizer.resume(args.resume, registry=args.registry)
    else:
        if not args.task:
            raise SmoloptError("optimize needs a TASK (or --resume runs/<id>)")
        task, run = load_task(args.task), None
        optimizer = Optimizer(
            student=args.model, reflection=None if args.reflection == "none" else (args.reflection or registry_reflection(args)),
            judge=chosen_judge(args),
            budget=args.budget or "light", registry=args.registry, seed=args.seed or 0,
        )
        optimizer.rule_budget = probed_rule_budget(optimizer.student, task.name)

    with progress_line(f"optimize {task.name}", args.quiet) as update:
        started = time.perf_counter()

        def progress(done: int, total: int, best: float) -> None:
            rate = done / max(time.perf_counter() - started, 1e-9)
            update(done, total, f"best val {100 * best:.1f}% · {rate:.1f} metric calls/s")

        optimizer.progress = progress
        _, result = optimizer.run(task, run)

    if not args.quiet:
        console.print(f"[bold]proposers:[/bold] {escape(result.reflection_note)}")
        console.print(f"[bold]choice:[/bold] {escape(choice_note(result.choice))}")
        print_notices(result.notices)
        console.print(rich_table(f"formats on val (chosen: {result.chosen_format})", FORMAT_HEADERS, format_rows(result)))
        console.print(rich_table("accepted candidates", ITERATION_HEADERS, iteration_rows(result)))
        console.print(rich_table("test split (95% bootstrap interval)", SUMMARY_HEADERS, summary_rows(result)))
        if parts := part_rows(result):
            console.print(rich_table("parts of the score on test", PART_HEADERS, parts))
        for name, before, after in prompt_pairs(result):
            console.print(rich_table(f"prompt: {name}", ["baseline", "chosen"], [[before, after]]))
    console.print(f"run saved to {optimizer.run_dir}")
    return 0

