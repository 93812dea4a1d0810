"""`smolopt teach`: a registry model writes a task's reference outputs into the task folder."""

from __future__ import annotations

import argparse

from smolopt.cli.console import console, progress_line


def add_parser(sub) -> None:
    te = sub.add_parser("teach", help="let a model write a task's reference outputs (e.g. the story task's teacher stories)")
    te.add_argument("task", help="task name or folder")
    te.add_argument("--model", required=True, help="the teacher: any model name from the registry")
    te.add_argument("--quiet", action="store_true", help="no progress bar")
    te.set_defaults(func=cmd_teach)


def cmd_teach(args: argparse.Namespace) -> int:
    from smolopt.references import FILENAME
    from smolopt.teach.command import run_teach

    with progress_line(f"teach {args.task}", args.quiet) as progress:
        taught, task, run = run_teach(args.task, model=args.model, registry=args.registry, progress=progress)
    console.print(f"{taught.written} references written by {args.model}, {taught.kept} kept from before, "
                  f"{len(taught.failed)} without a readable answer{': ' + ', '.join(taught.failed) if taught.failed else ''}")
    console.print(f"references in {task.path / FILENAME}; calls logged in {run.path}")
    return 0
