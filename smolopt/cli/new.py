"""`smolopt new NAME --from FILE`: a task folder from a labeled CSV, TSV or JSONL file."""

from __future__ import annotations

import argparse
from pathlib import Path

from smolopt.cli.console import console


def add_parser(sub) -> None:
    new = sub.add_parser("new", help="make a task from a CSV, TSV or JSONL file (tasks/NAME: data.jsonl with splits, task.py)")
    new.add_argument("name", metavar="NAME", help="the task's name: its folder under ./tasks (or --tasks-dir) and its ids")
    new.add_argument("--from", dest="source", type=Path, required=True, metavar="FILE", help="the file: .csv, .tsv or .jsonl, with a header row or keys naming the columns")
    new.add_argument("--input", dest="inputs", action="append", default=None, metavar="COL",
                     help="an input column (repeat for several; default: every column but the answer's)")
    answer = new.add_mutually_exclusive_group(required=True)
    answer.add_argument("--label", default=None, metavar="COL", help="the column of labels: a label task, scored by exact match")
    answer.add_argument("--output", default=None, metavar="COL", help="the column of reference texts: a free-text task, scored by --metric")
    new.add_argument("--metric", default=None, metavar="exact|f1|similarity",
                     help="a free-text task's score: exact match, token F1 or embedding similarity (default f1)")
    new.add_argument("--instruction", default=None, metavar="TEXT", help="the instruction the program starts from (default: one made from the column names)")
    new.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the split (default 0; the same file and seed give the same split)")
    new.add_argument("--tasks-dir", type=Path, default=None, metavar="DIR", help="where the task folder goes (default: ./tasks or $SMOLOPT_TASKS)")
    new.add_argument("--force", action="store_true", help="replace the task folder if it exists")
    new.set_defaults(func=cmd_new)


def cmd_new(args: argparse.Namespace) -> int:
    from smolopt.newtask import make_task
    from smolopt.newtask.report import new_report, next_commands
    from smolopt.report import terminal

    made = make_task(args.name, args.source, inputs=args.inputs, label=args.label, output=args.output, instruction=args.instruction,
                     metric=args.metric, seed=args.seed, tasks_dir=args.tasks_dir, force=args.force, registry=args.registry)
    for line in terminal(new_report(made)):
        console.print(line)
    for command, what in next_commands(made):
        console.print(f"next: {command}", markup=False, highlight=False, soft_wrap=True)
        console.print(f"      ({what})", markup=False, highlight=False, soft_wrap=True)
    return 0
