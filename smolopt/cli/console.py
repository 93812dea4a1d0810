"""The terminal side of every command: one console for tables, one for errors and progress."""

from __future__ import annotations

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
