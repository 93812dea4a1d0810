"""`smolopt tune`: a LoRA on a task's train split, served by llama.cpp; prints its run directory."""

from __future__ import annotations

import argparse

from smolopt.tune.device import DEVICES


def add_parser(sub) -> None:
    tu = sub.add_parser("tune", help="tune the student's weights (LoRA; CPU, or a GPU torch sees) on a task, in the program's own prompt format")
    tu.add_argument("task", nargs="?", help="task name or folder (not needed with --resume)")
    tu.add_argument("--model", default=None, help="model whose weights are tuned (an embedded entry, or any entry with gguf = PATH)")
    tu.add_argument("--program", default=None, help="train for this program.json (default: the task's seed program in its best format)")
    tu.add_argument("--format", default=None, help="train and serve in this format, e.g. 'completion score calibrated'")
    tu.add_argument("--epochs", type=int, default=None, help="most epochs (val picks the best; default 8)")
    tu.add_argument("--rank", type=int, default=None, help="LoRA rank (default 16)")
    tu.add_argument("--merge", action="store_true", help="also write merged.gguf (base + adapter in one file) for servers that load no adapters (LM Studio)")
    tu.add_argument("--device", choices=DEVICES, default=None,
                    help="train on: auto (CUDA, else Apple MPS, else the CPU; the default), cpu, cuda or mps; with --resume, "
                         "the device the run asked for unless given")
    tu.add_argument("--resume", default=None, help="continue runs/<id> after a kill or Ctrl-C, from its last finished epoch")
    tu.add_argument("--quiet", action="store_true", help="no progress bars")
    tu.set_defaults(func=cmd_tune)


def cmd_tune(args: argparse.Namespace) -> int:
    from smolopt.cli.console import console, print_notices, progress_line
    from smolopt.cli.flags import refuse_with_resume
    from smolopt.errors import SmoloptError
    from smolopt.report import terminal
    from smolopt.tune.command import resume_tune, start_tune
    from smolopt.tune.report import epoch_status, tune_report
    from smolopt.usage import usage_lines, without_usage

    for flag, value in (("--epochs", args.epochs), ("--rank", args.rank)):
        if value is not None and value < 1:
            raise SmoloptError(f"{flag} must be 1 or more, not {value}")
    with progress_line("tune", args.quiet) as epochs_bar, progress_line("eval on test", args.quiet) as eval_bar:
        def epoch_done(epoch, planned: int) -> None:
            epochs_bar(epoch.epoch, planned, epoch_status(epoch))

        if args.resume:
            # Not --device: checkpoints hold CPU tensors, so a tune may continue on another device and still be the same tune.
            refuse_with_resume(args.resume, {"TASK": args.task, "--model": args.model, "--program": args.program, "--format": args.format,
                                             "--epochs": args.epochs, "--rank": args.rank, "--merge": args.merge or None})
            tuned = resume_tune(args.resume, device=args.device, registry=args.registry, epochs=epoch_done, progress=eval_bar)
        elif not args.task:
            raise SmoloptError("tune needs a TASK (or --resume runs/<id>)")
        else:
            tuned = start_tune(args.task, model=args.model, program_path=args.program, fmt=args.format, epochs=args.epochs,
                               rank=args.rank, merge=args.merge, device=args.device or "auto", registry=args.registry,
                               epochs_progress=epoch_done, progress=eval_bar)
    if not args.quiet:
        for line in terminal(without_usage(tune_report(tuned))):
            console.print(line)
        print_notices(tuned.notices)
    console.print(f"run saved to {tuned.run.path}")
    args.run_dir = tuned.run.path  # logged to MLflow with --mlflow (smolopt/cli/__init__.py)
    for line in usage_lines(tuned.usage) if tuned.usage else []:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    return 0
