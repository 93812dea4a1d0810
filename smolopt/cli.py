"""The `smolopt` command: parse arguments, call the library, hand results to the report layer.

Every SmoloptError becomes one line on stderr and exit status 2; Ctrl-C exits 130 after the run
directory has everything finished so far.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from smolopt.errors import SmoloptError, found_in

console = Console()
err_console = Console(stderr=True)


def progress_bar(quiet: bool = False) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"),
        console=err_console,
        disable=quiet,
        transient=False,
    )


def cmd_models(args: argparse.Namespace) -> int:
    from smolopt.backends.status import model_status
    from smolopt.registry import load_registry
    from smolopt.report import offers_cell, rich_table

    registry = load_registry(args.registry)
    rows = []
    for spec in registry.models.values():
        found = model_status(spec)
        role = " (default)" if spec.name == registry.default_student else (" (reflection)" if spec.name == registry.default_reflection else "")
        rows.append((spec.name + role, spec.provider, found.serves, found.where, found.status, offers_cell(found.declared, found.found)))
    console.print(rich_table(f"models in {registry.path}", ["name", "provider", "serves", "where", "status", "offers"], rows))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Keep one embedded server running so later commands reuse it (give the entry a fixed `port`)."""
    import time

    from smolopt.backends.embedded import EmbeddedServer
    from smolopt.registry import load_registry

    spec = load_registry(args.registry).get(args.model)
    if spec.provider != "embedded":
        raise SmoloptError(f"model '{spec.name}' is served by {spec.provider}, not by smolopt")
    if spec.port is None:
        raise SmoloptError(f"model '{spec.name}' has no 'port' in the registry; set one so other commands can find the server")
    server = EmbeddedServer(spec)
    url = server.start()
    if server.process is None:
        console.print(f"{spec.name} is already served at {url}")
        return 0
    console.print(f"serving {spec.name} at {url} (Ctrl-C stops it)")
    try:
        while server.process.poll() is None:
            time.sleep(1)
    finally:
        server.stop()
    return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    from smolopt.report import rich_table
    from smolopt.tasks import available_tasks, load_task

    rows = []
    for name in available_tasks():
        task = load_task(name)
        sizes = task.sizes()
        rows.append((name, sizes["train"], sizes["val"], sizes["test"], ", ".join(task.labels or ()) or task.output, len(task.rules), task.description))
    console.print(rich_table("tasks", ["task", "train", "val", "test", "labels / output", "rules", "description"], rows))
    return 0


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
    for text in models.log.notices:
        console.print(f"notice: {text}", highlight=False)
    console.print(f"run saved to {run.path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smolopt", description="Prompt optimization for tiny local language models.")
    parser.add_argument("--registry", type=Path, default=None, help="model registry (default: ./models.toml or $SMOLOPT_MODELS)")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("models", help="list the models in the registry and whether each is reachable").set_defaults(func=cmd_models)
    sub.add_parser("tasks", help="list the tasks under ./tasks with their sizes").set_defaults(func=cmd_tasks)
    serve = sub.add_parser("serve", help="run an embedded model's server until Ctrl-C, for other commands to reuse")
    serve.add_argument("--model", default=None)
    serve.set_defaults(func=cmd_serve)

    ev = sub.add_parser("eval", help="evaluate a program on a task split")
    ev.add_argument("task")
    ev.add_argument("--model", default=None, help="model name from the registry (default: the registry's default student)")
    ev.add_argument("--split", default="test", choices=["train", "val", "test"])
    ev.add_argument("--program", default=None, help="an optimized program.json saved by `smolopt optimize`")
    ev.add_argument("--format", default=None, help="ask every predictor this way, e.g. 'completion score calibrated' (default: the program's own)")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    ev.set_defaults(func=cmd_eval)

    from smolopt.optimize.cli import add_optimize_parser
    from smolopt.probe_cli import add_probe_parser

    add_optimize_parser(sub)
    add_probe_parser(sub)

    return parser


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    import dspy  # noqa: F401  (dspy sets up its loggers on import; quiet them afterwards)

    logging.getLogger("dspy").setLevel(logging.ERROR)  # truncation notices: smolopt's tables report these
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except Exception as err:  # noqa: BLE001 - a SmoloptError may arrive wrapped by DSPy or GEPA
        cause = found_in(err, SmoloptError)
        if cause is None:
            raise
        err_console.print(f"smolopt: error: {cause}", highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err_console.print("smolopt: interrupted; finished work is saved in the run directory")
        return 130


if __name__ == "__main__":
    sys.exit(main())
