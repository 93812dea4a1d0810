"""`smolopt tasks`: the task folders with their split sizes; a folder that is no task says why in its row."""

from __future__ import annotations

import argparse

from smolopt.cli.console import console


def add_parser(sub) -> None:
    sub.add_parser("tasks", help="list the tasks under ./tasks with their sizes (exit 1 when a folder does not load)").set_defaults(func=cmd_tasks)

def cmd_tasks(args: argparse.Namespace) -> int:
    """The whole table first, then exit 1 if any folder did not load, so a script notices."""
    from smolopt.report import rich_table
    from smolopt.tasks import task_folders

    rows = []
    folders = task_folders()
    for folder in folders:
        task = folder.task
        if task is None:
            rows.append((folder.name, "", "", "", "", "", f"not loaded: {folder.problem}"))
            continue
        sizes = task.sizes()
        rows.append((folder.name, sizes["train"], sizes["val"], sizes["test"], ", ".join(task.labels or ()) or task.output, len(task.rules), task.description))
    console.print(rich_table("tasks", ["task", "train", "val", "test", "labels / output", "rules", "description"], rows))
    return 1 if any(folder.task is None for folder in folders) else 0
