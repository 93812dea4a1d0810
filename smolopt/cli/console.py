"""The terminal side of every command: one console for tables, one for errors and progress.

Progress goes to stderr as a rich bar on a terminal, and as plain lines when stderr is a file or a
pipe: a live bar prints nothing there until it stops (an 8-minute run with stderr redirected showed
nothing until the end), so a log gets a line now and then with done/total, time spent and time left.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console()
err_console = Console(stderr=True)

# A redirected run's log: a line when this much time has passed or this share of the total is done
# since the last line (so a fast step still shows ~10 lines, a slow one a heartbeat every 10 s).
LINE_EVERY_S = 10.0
LINE_EVERY_FRACTION = 0.1


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("elapsed,"),
        TimeRemainingColumn(),
        TextColumn("left"),
        TextColumn("{task.fields[status]}"),
        console=err_console,
        transient=False,
    )


def print_notices(notices: list[str]) -> None:
    """What a run must tell its user once (a server without logprobs, a format that fell back)."""
    for text in notices:
        console.print(f"notice: {text}", markup=False, highlight=False)


def clock_time(seconds: float) -> str:
    """'0:07', '12:30', '1:02:03': elapsed and remaining time as a log reader reads it."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass
class ProgressLines:
    """Progress as plain lines for a log: `line(done, total, status)` is the line to print for this
    update, or None when it is too soon after the last one. The first and the last update always
    get a line. A new total starts a new step (optimize counts metric calls, then tuning epochs), so
    the time left comes from this step's own rate."""

    description: str
    clock: Callable[[], float] = time.monotonic
    started: float | None = None
    step: tuple[int | None, float, int] | None = None  # (total, when it began, done then)
    last: tuple[float, int] | None = None  # (when, done) of the last line printed

    def line(self, done: int, total: int | None, status: str = "") -> str | None:
        now = self.clock()
        if self.started is None:
            self.started = now
        if self.step is None or self.step[0] != total or done < self.step[2]:
            self.step, self.last = (total, now, done), None
        if not self.due(now, done, total):
            return None
        self.last = (now, done)
        return " · ".join(part for part in (self.counted(done, total), f"{clock_time(now - self.started)} elapsed",
                                            self.left(now, done, total), status) if part)

    def due(self, now: float, done: int, total: int | None) -> bool:
        if self.last is None:
            return True
        when, then = self.last
        if total and done >= total:
            return then < total  # the last line, once (GEPA reports its budget again after it is spent)
        return now - when >= LINE_EVERY_S or (bool(total) and done - then >= LINE_EVERY_FRACTION * total)

    def counted(self, done: int, total: int | None) -> str:
        if not total:
            return f"{self.description}: {done} done"
        return f"{self.description}: {done}/{total} ({100 * done / total:.0f}%)"

    def left(self, now: float, done: int, total: int | None) -> str:
        """The time left at this step's rate so far ('' once it is done, or with no total to go by)."""
        _, began, done_then = self.step
        if not total or done >= total:
            return ""
        if done <= done_then or now <= began:
            return "time left: estimating"
        return f"about {clock_time((total - done) * (now - began) / (done - done_then))} left"


@contextlib.contextmanager
def progress_line(description: str, quiet: bool = False) -> Iterator[Callable[..., None]]:
    """update(done, total, status="") for a bar that appears with its first update, so an error
    raised while a command is still loading its inputs stays the only line on stderr. When stderr
    is not a terminal, updates become plain lines (`ProgressLines`)."""
    if quiet:
        yield lambda done, total, status="": None
        return
    if not err_console.is_terminal:
        lines = ProgressLines(description)

        def log(done: int, total: int | None, status: str = "") -> None:
            if (text := lines.line(done, total, status)) is not None:
                err_console.print(text, markup=False, highlight=False, soft_wrap=True)

        yield log
        return
    bar = progress_bar()
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
