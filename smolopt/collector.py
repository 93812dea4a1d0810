"""Collectors: what happens deep inside a DSPy program call, handed to whoever asked, without threading
it through the program.

The backends announce every model call (its tokens and latency), the adapter every parse and echo
outcome; the evaluation core opens a collection around one example and reads both, so a task
program stays plain DSPy and a multi-step program's first-step failures count without the task
forwarding them.

Open collections live in a ContextVar, not in a global: examples scored on several threads at once
each fill their own bucket. A thread starts with an empty context, so work an example hands to
another thread announces into the example's bucket only when it runs in a copy of the example's
context (`contextvars.copy_context().run`); a bucket is a list, and appending to it from several
threads is safe.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Collector(Generic[T]):
    """Items announced inside `with collector.collect() as bucket:` land in that bucket (nested blocks: in each)."""

    def __init__(self, name: str):
        self._open: contextvars.ContextVar[tuple[list[T], ...]] = contextvars.ContextVar(name, default=())

    @contextlib.contextmanager
    def collect(self) -> Iterator[list[T]]:
        bucket: list[T] = []
        token = self._open.set(self._open.get() + (bucket,))
        try:
            yield bucket
        finally:
            self._open.reset(token)

    def announce(self, item: T) -> None:
        for bucket in self._open.get():
            bucket.append(item)
