"""`smolopt probe`: the capacity card of one or more models on one or more tasks."""

from __future__ import annotations

import argparse

from smolopt.cli.console import console, progress_bar


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add `probe` to the `smolopt` subcommands."""
    probe = subparsers.add_parser(
        "probe", help="measure what a model can take: formats, instruction load, few-shot, echoes, bias; writes a capacity card"
    )
    probe.add_argument("--model", action="append", default=None,
                       help="model name from the registry; repeat to compare models (default: the registry's default student)")
    probe.add_argument("--task", action="append", default=None, help="task to probe; repeatable (default: sentiment)")
    probe.add_argument("--examples", type=int, default=None,
                       help="score every variant on the first N val examples (default: 12, smolopt.probe.DEFAULT_EXAMPLES)")
    probe.add_argument("--quiet", action="store_true", help="no progress bar")
    probe.set_defaults(func=cmd_probe)


def cmd_probe(args: argparse.Namespace) -> int:
    """Plan every (model, task) first so the progress bar knows its total, then run and write the card.

    probe.json is rewritten after each (model, task), so Ctrl-C keeps the probes already finished.
    """
    from smolopt.probe import DEFAULT_EXAMPLES, plan_probe, results_json, run_probe
    from smolopt.probe.card import SUMMARY_HEADERS, summary_row, write_card
    from smolopt.registry import load_registry
    from smolopt.report import rich_table
    from smolopt.runs import new_run
    from smolopt.tasks import load_task

    examples = DEFAULT_EXAMPLES if args.examples is None else args.examples
    registry = load_registry(args.registry)
    specs = list({spec.name: spec for spec in (registry.get(name) for name in (args.model or [None]))}.values())
    tasks = [load_task(name) for name in dict.fromkeys(args.task or ["sentiment"])]
    plans = [plan_probe(task, spec, examples) for spec in specs for task in tasks]
    run = new_run("probe", "-".join(task.name for task in tasks), {
        "tasks": [task.name for task in tasks],
        "models": [spec.public() for spec in specs],
        "examples": examples,
    })
    probes = []
    with run.models(registry) as models, progress_bar(args.quiet) as bar:
        job = bar.add_task("probe", total=sum(plan.total_steps for plan in plans), status="")
        done = 0
        for plan in plans:
            bar.update(job, status=f"{plan.model} · {plan.task.name}")
            probe = run_probe(plan, models.lm(plan.model),
                              progress=lambda step, _total, base=done: bar.update(job, completed=base + step))
            done += plan.total_steps
            probes.append(probe)
            run.write_json("probe.json", results_json(probes))
    card = write_card(probes, run.path)
    console.print(rich_table("capacity card", SUMMARY_HEADERS, [summary_row(probe) for probe in probes]))
    console.print(f"card written to {card}")
    console.print(f"run saved to {run.path}")
    return 0
