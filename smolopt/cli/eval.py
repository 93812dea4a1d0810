"""`smolopt eval`: one program on one task split, with the numbers every report shows."""

from __future__ import annotations

import argparse

from smolopt.cli.console import console, progress_line
from smolopt.cli.flags import chosen_judge, refuse_with_resume


def add_parser(sub) -> None:
    ev = sub.add_parser("eval", help="evaluate a program on a task split")
    ev.add_argument("task", nargs="?", help="task name or folder (not needed with --resume)")
    ev.add_argument("--model", default=None, help="model name from the registry (default: the registry's default student)")
    ev.add_argument("--split", default=None, choices=["train", "val", "test"], help="default: test")
    ev.add_argument("--program", default=None, help="an optimized program.json saved by `smolopt optimize`")
    ev.add_argument("--adapter", default=None, help="serve the embedded model with this LoRA adapter.gguf (`smolopt tune` writes one; default: the one --program records)")
    ev.add_argument("--format", default=None, help="ask every predictor this way, e.g. 'completion score calibrated' (default: the program's own)")
    ev.add_argument("--judge", default=None, help="judge model of a judged task such as story (default: the registry's [defaults] reflection; 'none' leaves the judge's parts out)")
    ev.add_argument("--refine", type=int, default=None, help="generations per example: each retry is told the metric's feedback on the last (default 1)")
    ev.add_argument("--resume", default=None, help="continue runs/<id> after a fault or Ctrl-C: finished calls come from its cache")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    ev.set_defaults(func=cmd_eval)


def cmd_eval(args: argparse.Namespace) -> int:
    from smolopt.errors import SmoloptError
    from smolopt.evaluation.command import OUTPUTS, resume_eval, run_eval
    from smolopt.report import eval_report, terminal

    with progress_line("eval", args.quiet) as progress:
        if args.resume:
            refuse_with_resume(args.resume, {"TASK": args.task, "--model": args.model, "--split": args.split,
                                             "--program": args.program, "--format": args.format,
                                             "--judge": args.judge, "--refine": args.refine, "--adapter": args.adapter})
            result, run, notices = resume_eval(args.resume, registry=args.registry, progress=progress)
        elif not args.task:
            raise SmoloptError("eval needs a TASK (or --resume runs/<id>)")
        else:
            result, run, notices = run_eval(args.task, split=args.split or "test", model=args.model, program_path=args.program,
                                            fmt=args.format, judge=chosen_judge(args), refine=args.refine or 1,
                                            adapter=args.adapter, registry=args.registry, progress=progress)
    outputs = run.path / OUTPUTS
    for line in terminal(eval_report(result, notices, outputs if outputs.exists() else None)):
        console.print(line)
    console.print(f"run saved to {run.path} (report.md)")
    args.run_dir = run.path  # logged to MLflow with --mlflow (smolopt/cli/__init__.py)
    return 0
