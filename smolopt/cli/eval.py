"""`smolopt eval`: one program on one task split, with the numbers every report shows."""

from __future__ import annotations

import argparse

from smolopt.cli.console import console, print_notices, progress_bar


def add_parser(sub) -> None:
    ev = sub.add_parser("eval", help="evaluate a program on a task split")
    ev.add_argument("task")
    ev.add_argument("--model", default=None, help="model name from the registry (default: the registry's default student)")
    ev.add_argument("--split", default="test", choices=["train", "val", "test"])
    ev.add_argument("--program", default=None, help="an optimized program.json saved by `smolopt optimize`")
    ev.add_argument("--format", default=None, help="ask every predictor this way, e.g. 'completion score calibrated' (default: the program's own)")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    ev.set_defaults(func=cmd_eval)

def cmd_eval(args: argparse.Namespace) -> int:
    from smolopt.adapters.formats import parse_format
    from smolopt.candidate import set_format
    from smolopt.evaluate import evaluate
    from smolopt.program_io import load_program
    from smolopt.registry import load_registry
    from smolopt.report import eval_table
    from smolopt.runs import new_run
    from smolopt.tasks import load_task

    registry = load_registry(args.registry)
    task = load_task(args.task)
    spec = registry.get(args.model)
    examples = task.split(args.split)
    program = load_program(task, args.program) if args.program else task.program()
    if args.format:
        fmt = parse_format(args.format, "--format")
        for name, predictor in program.named_predictors():
            set_format(predictor, str(fmt), name)
    run = new_run("eval", task.name, {"task": task.name, "split": args.split, "model": spec.public(), "program": args.program, "format": args.format})
    with run.models(registry) as models, progress_bar(args.quiet) as bar:
        lm = models.lm(spec.name)
        job = bar.add_task(f"eval {task.name}", total=len(examples), status="")
        result = evaluate(task, program, examples, lm, split=args.split, progress=lambda done, total: bar.update(job, completed=done))
    run.write_json("results.json", {**result.to_json(), "notices": models.log.notices})
    console.print(eval_table(result))
    print_notices(models.log.notices)
    console.print(f"run saved to {run.path}")
    return 0
