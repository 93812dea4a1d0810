"""`smolopt optimize`: arguments in, run directory and tables out."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from smolopt.cli.console import console, progress_line
from smolopt.cli.flags import chosen_judge, refuse_with_resume, registry_reflection


def add_parser(sub) -> None:
    op = sub.add_parser("optimize", help="optimize a task's prompts for a student model with GEPA")
    op.add_argument("task", nargs="?", help="task name (not needed with --resume)")
    op.add_argument("--model", default=None, help="student model (default: the registry's default student)")
    op.add_argument("--reflection", default=None, help="reflection model (default: the registry's [defaults] reflection; 'none' for few-shot injection only)")
    op.add_argument("--judge", default=None, help="judge model of a judged task such as story (default: the registry's [defaults] reflection; 'none' leaves the judge's parts out)")
    op.add_argument("--budget", default=None, help="light, medium, heavy (10, 20, 40 validation passes) or a number of metric calls")
    op.add_argument("--seed", type=int, default=None, help="random seed of the search (default 0)")
    op.add_argument("--adapter", default=None, help="search prompts for the embedded student served with this LoRA adapter.gguf")
    op.add_argument("--weights", choices=["lora"], default=None,
                    help="lora: also tune the student's weights (CPU) after the prompt search, search again on them, and compare seed / prompt / weights / both on test")
    op.add_argument("--deploy", default=None, help="the entry the program will run on (e.g. your LM Studio model): only formats its server offers are searched, for every arm, and tuned weights ship as it loads them (default: the student's own entry)")
    op.add_argument("--resume", type=Path, default=None, help="continue runs/<id>: finished calls come from its cache")
    op.add_argument("--quiet", action="store_true", help="no progress bar, no tables (the report is still written)")
    op.set_defaults(func=cmd_optimize)


def cmd_optimize(args: argparse.Namespace) -> int:
    """Arguments in; the library's optimize command runs; the report it wrote to report.md, on the terminal."""
    from smolopt.errors import SmoloptError
    from smolopt.optimize.command import resume_optimize, start_optimize
    from smolopt.report import terminal
    from smolopt.serving.program import PROGRAM_FILE, saved_usage
    from smolopt.tune.report import epoch_status
    from smolopt.usage import usage_lines, without_usage

    if args.resume:
        refuse_with_resume(args.resume, {"TASK": args.task, "--model": args.model, "--reflection": args.reflection, "--judge": args.judge,
                                         "--budget": args.budget, "--seed": args.seed, "--weights": args.weights,
                                         "--adapter": args.adapter, "--deploy": args.deploy})
    elif not args.task:
        raise SmoloptError("optimize needs a TASK (or --resume runs/<id>)")

    with progress_line(f"optimize {args.task or args.resume}", args.quiet) as update:
        started = time.perf_counter()

        def progress(done: int, total: int, best: float) -> None:
            rate = done / max(time.perf_counter() - started, 1e-9)
            update(done, total, f"best val {100 * best:.1f}% · {rate:.1f} metric calls/s")

        def epoch_done(epoch, planned: int) -> None:
            update(epoch.epoch, planned, f"tuning weights, {epoch_status(epoch)}")

        if args.resume:
            optimizer = resume_optimize(args.resume, registry=args.registry, progress=progress, epochs_progress=epoch_done)
        else:
            optimizer = start_optimize(
                args.task, model=args.model, reflection=None if args.reflection == "none" else (args.reflection or registry_reflection(args)),
                judge=chosen_judge(args), budget=args.budget or "light", seed=args.seed or 0, weights=args.weights,
                adapter=args.adapter, deploy=args.deploy, registry=args.registry, progress=progress, epochs_progress=epoch_done)

    if not args.quiet:
        for line in terminal(without_usage(optimizer.report)):
            console.print(line)
    console.print(f"run saved to {optimizer.run_dir} (report.md)")
    args.run_dir = optimizer.run_dir  # logged to MLflow with --mlflow (smolopt/cli/__init__.py)
    for line in usage_lines(saved_usage(optimizer.run_dir / PROGRAM_FILE)):  # what shipped, weights and all
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    return 0
