"""`smolopt tasks`: the task folders with their split sizes."""

from __future__ import annotations

import argparse

from smolopt.cli.console import console


def add_parser(sub) -> None:
    sub.add_parser("tasks", help="list the tasks under ./tasks with their sizes").set_defaults(func=cmd_tasks)

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
