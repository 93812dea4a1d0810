"""The terminal side of every command: one console for tables, one for errors and progress."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

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


def print_notices(notices: list[str]) -> None:
    """What a run must tell its user once (a server without logprobs, a format that fell back)."""
    for text in notices:
        console.print(f"notice: {text}", markup=False, highlight=False)


@contextlib.contextmanager
def progress_line(description: str, quiet: bool = False) -> Iterator[Callable[..., None]]:
    """update(done, total, status="") for a bar that appears with its first update, so an error
    raised while a command is still loading its inputs stays the only line on stderr."""
    bar = progress_bar(quiet)
    job = None

    def update(done: int, total: int | None, status: str = "") -> None:
        nonlocal job
        if job is None:
            bar.start()
            job = bar.add_task(description, total=total, status=status)
        bar.update(job, completed=done, total=total, status=status)

    try:
        yield update
    finally:
        if job is not None:
            bar.stop()
