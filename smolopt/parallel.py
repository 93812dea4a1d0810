"""Independent jobs a few at a time, answered in their own order.

Each job runs in a copy of the caller's context, so what the caller set in context variables (DSPy's
settings, a collector opened around the whole run) holds inside it, and what a job opens (the
collectors around one example) stays its own. The caller hears of each job as it finishes, on its
own thread, in the order they finish; the returned list keeps the order they were given in.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def map_in_order(
    job: Callable[[T], R],
    items: Sequence[T],
    workers: int,
    on_done: Callable[[int, R], None] | None = None,
) -> list[R]:
    """[job(item) for item in items], up to `workers` at once; `on_done(index, result)` as each ends.

    One worker runs them here, one after another. The first job that raises stops the rest: those
    not started are cancelled, and the error reaches the caller (so does Ctrl-C while waiting).
    """
    if workers <= 1 or len(items) <= 1:
        results = []
        for index, item in enumerate(items):
            results.append(job(item))
            if on_done:
                on_done(index, results[-1])
        return results
    pool = ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix="smolopt")
    futures: dict[Future[R], int] = {pool.submit(contextvars.copy_context().run, job, item): i for i, item in enumerate(items)}
    done: dict[int, R] = {}
    try:
        for future in as_completed(futures):
            index = futures[future]
            done[index] = future.result()
            if on_done:
                on_done(index, done[index])
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return [done[index] for index in range(len(items))]
