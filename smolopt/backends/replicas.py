"""Several servers of one model: each request goes to the least busy one, a dead one is dropped.

A replica is dropped only when it stops answering GET /models too (a refused connection, a crashed
process), not for one failed request, which the client retries as any server's: a proxy that
drops one connection should not cost a healthy server.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


class Replicas:
    """The live endpoints of one entry and how many requests each has in flight."""

    def __init__(self, urls: list[str]):
        if not urls:
            raise ValueError("a model needs at least one endpoint")
        self._busy = {url.rstrip("/"): 0 for url in urls}
        self._lock = threading.Lock()

    @property
    def urls(self) -> list[str]:
        with self._lock:
            return list(self._busy)

    def __len__(self) -> int:
        with self._lock:
            return len(self._busy)

    @contextlib.contextmanager
    def lease(self) -> Iterator[str]:
        """The least busy live endpoint (the first listed on a tie), counted busy while inside."""
        with self._lock:
            url = min(self._busy, key=self._busy.__getitem__)
            self._busy[url] += 1
        try:
            yield url
        finally:
            with self._lock:
                if url in self._busy:
                    self._busy[url] -= 1

    def drop(self, url: str) -> bool:
        """Stop sending to `url`; False when it is the last one (then it stays, and errors stay errors)."""
        with self._lock:
            if url not in self._busy or len(self._busy) == 1:
                return False
            del self._busy[url]
            return True
