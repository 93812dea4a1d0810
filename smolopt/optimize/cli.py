"""`smolopt optimize`: arguments in, run directory and tables out."""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from pathlib import Path


def add_optimize_parser(sub) -> None:
    op = sub.add_parser("optimize", help="optimize a task's prompts for a student model with GEPA")
    op.add_argument("task", nargs="?", help="task name (not needed with --resume)")
    op.add_argument("--model", default=None, help="student model (default: the registry's default student)")
    op.add_argument("--reflection", default=None, help="reflection model (default: the registry's [defaults] reflection; 'none' for few-shot injection only)")
    op.add_argument("--budget", default="light", help="light, medium, heavy (10, 20, 40 validation passes) or a number of metric calls")
    op.add_argument("--seed", type=int, default=0)
    op.add_argument("--resume", type=Path, default=None, help="continue runs/<id>: finished calls come from its cache")
    op.add_argument("--quiet", action="store_true", help="no progress bar, no tables (the report is still written)")
    op.set_defaults(func=cmd_optimize)


def cmd_optimize(args: argparse.Namespace) -> int:
    from smolopt.cli import console, progress_bar
    from smolopt.errors import SmoloptError
    from smolopt.optimize.report import (
        FORMAT_HEADERS, ITERATION_HEADERS, SUMMARY_HEADERS, format_rows, iteration_rows, markdown, prompt_pairs, summary_rows,
    )
    from smolopt.optimize.runner import optimize, parse_budget
    from smolopt.registry import load_registry
    from smolopt.report import rich_table
    from smolopt.runs import new_run, open_run
    from smolopt.tasks import load_task

    registry = load_registry(args.registry)
    if args.resume:
        run = open_run(args.resume)
        config = run.read_json("config.json")
        task_name, student, reflection, budget, seed = (
            config["task"], config["student"], config["reflection"], config["budget"], config["seed"]
        )
    else:
        if not args.task:
            raise SmoloptError("optimize needs a TASK (or --resume runs/<id>)")
        task_name, seed = args.task, args.seed
        student = registry.get(args.model).name
        reflection = None if args.reflection == "none" else (args.reflection or registry.default_reflection)
        if reflection:
            registry.get(reflection)  # an unknown name is an error, an unreachable model is not
    task = load_task(task_name)
    if not args.resume:
        budget = parse_budget(args.budget, len(task.split("val")))
    if not args.resume:
        run = new_run("optimize", task.name, {
            "task": task.name, "student": student, "reflection": reflection, "budget": budget, "seed": seed,
            "models": {name: registry.get(name).public() for name in filter(None, (student, reflection))},
        })

    started = time.perf_counter()
    with run.models(registry) as models, progress_bar(args.quiet) as bar:
        job = bar.add_task(f"optimize {task.name}", total=budget, status="")

        def progress(done: int, total: int, best: float) -> None:
            calls = models.log.made + models.log.cached
            rate = calls / max(time.perf_counter() - started, 1e-9)
            bar.update(job, completed=done, status=f"best val {100 * best:.1f}% · {rate:.1f} calls/s")

        result = optimize(task, models, run, student=student, reflection=reflection, budget=budget, progress=progress, seed=seed)

    run.write_json("results.json", {
        "summary": result.summary_rows(),
        "test_change": result.test_change(),
        "iterations": result.iterations,
        "proposals": [asdict(r) for r in result.journal.records],
        "baseline_test": result.baseline_test.to_json(),
        "optimized_test": result.optimized_test.to_json(),
        "best_candidate": result.best,
        "metric_calls": result.metric_calls,
        "lm_calls": result.lm_calls,
        "cached_calls": result.cached_calls,
        "wall_s": result.wall_s,
        "reflection_note": result.reflection_note,
        "format_val": result.format_val,
        "chosen_format": result.chosen_format,
        "notices": result.notices,
        **result.extra,
    })
    run.write_text("report.md", markdown(result))
    if not args.quiet:
        console.print(f"[bold]proposers:[/bold] {result.reflection_note}")
        console.print(f"[bold]choice:[/bold] {result.extra['choice']}")
        for text in result.notices:
            console.print(f"[bold]notice:[/bold] {text}", highlight=False)
        console.print(rich_table(f"formats on val (chosen: {result.chosen_format})", FORMAT_HEADERS, format_rows(result)))
        console.print(rich_table("accepted candidates", ITERATION_HEADERS, iteration_rows(result)))
        console.print(rich_table("test split (95% bootstrap interval)", SUMMARY_HEADERS, summary_rows(result)))
        for name, before, after in prompt_pairs(result):
            console.print(rich_table(f"prompt: {name}", ["baseline", "chosen"], [[before, after]]))
    console.print(f"run saved to {run.path}")
    return 0
