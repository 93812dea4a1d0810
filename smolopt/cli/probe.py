"""`smolopt probe`: the capacity card of one or more models on one or more tasks."""

from __future__ import annotations

import argparse

from smolopt.cli.console import console, progress_line
from smolopt.cli.flags import refuse_with_resume


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
    probe.add_argument("--adapter", default=None, help="probe the embedded model(s) served with this LoRA adapter.gguf")
    probe.add_argument("--weights", action=argparse.BooleanOptionalAction, default=None,
                       help="end each (model, task) with a short LoRA tune (3 epochs, CPU) measured like the prompts: "
                            "tells a weights problem from a capacity problem (default: on)")
    probe.add_argument("--resume", default=None, help="continue runs/<id> after a fault or Ctrl-C: finished calls come from its cache")
    probe.add_argument("--quiet", action="store_true", help="no progress bar")
    probe.set_defaults(func=cmd_probe)


def cmd_probe(args: argparse.Namespace) -> int:
    """Plan every (model, task) so the progress bar knows its total, then run and write the card."""
    from smolopt.probe.card import summary_section
    from smolopt.probe.plan import DEFAULT_EXAMPLES
    from smolopt.probe.command import probe_run, resume_probe
    from smolopt.report import section_table

    with progress_line("probe", args.quiet) as progress:
        if args.resume:
            refuse_with_resume(args.resume, {"--model": args.model, "--task": args.task, "--examples": args.examples,
                                             "--weights": args.weights, "--adapter": args.adapter})
            probes, card, run = resume_probe(args.resume, registry=args.registry, progress=progress)
        else:
            examples = DEFAULT_EXAMPLES if args.examples is None else args.examples
            probes, card, run = probe_run(args.task or ["sentiment"], args.model or [None], examples=examples,
                                          registry=args.registry, progress=progress,
                                          weights=args.weights is not False, adapter=args.adapter)
    console.print(section_table(summary_section(probes)))
    console.print(f"card written to {card}")
    console.print(f"run saved to {run.path}")
    args.run_dir = run.path  # logged to MLflow with --mlflow (smolopt/cli/__init__.py)
    return 0
