"""What one model call was, and the two places calls are kept: the per-run log and the cache.

Both live in the run directory, so a resumed run serves every call it already made from the cache
and `calls.jsonl` tells afterwards exactly what each model was sent and said.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from smolopt.collector import Collector
from smolopt.jsonl import append_jsonl


@dataclass
class Completion:
    """One answer from a chat or completions endpoint, with its cost."""

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    cached: bool = False
    model: str = ""
    # Per generated token, its most likely alternatives {token: logprob}, when logprobs were asked.
    top_logprobs: list[dict[str, float]] | None = None


def request_key(model_name: str, body: dict) -> str:
    """Cache key: the model entry plus the exact body that would go on the wire."""
    blob = json.dumps({"model": model_name, "body": body}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


class CallCache:
    """A small SQLite map from request key to Completion, safe to share across threads."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, completion TEXT)")
        self._lock = threading.Lock()

    def get(self, key: str) -> Completion | None:
        with self._lock:
            row = self._db.execute("SELECT completion FROM calls WHERE key = ?", (key,)).fetchone()
        return Completion(**json.loads(row[0])) if row else None

    def put(self, key: str, completion: Completion) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO calls VALUES (?, ?)", (key, json.dumps(asdict(completion))))
            self._db.commit()



@dataclass
class CallLog:
    """Appends every call (request body, raw text, usage, latency) to a JSONL file and counts them."""

    path: Path | None = None
    made: int = 0
    cached: int = 0
    # Things the run must tell its user once (a server without logprobs, a format that fell back).
    notices: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def notice(self, text: str) -> None:
        """Keep `text` once per run, however many calls run into the same thing."""
        with self._lock:
            if text not in self.notices:
                self.notices.append(text)

    def record(self, model_name: str, body: dict, completion: Completion) -> None:
        with self._lock:
            if completion.cached:
                self.cached += 1
            else:
                self.made += 1
            if self.path is None:
                return
            entry = {"time": time.time(), "model": model_name, "request": body, **asdict(completion)}
            append_jsonl(self.path, entry)

    def record_failure(self, model_name: str, body: dict, error: str) -> None:
        """A request that got no completion (an overflow, a bad reply, a dead server) is logged too, with why."""
        if self.path is not None:
            with self._lock:
                append_jsonl(self.path, {"time": time.time(), "model": model_name, "request": body, "cached": False, "error": error})


# The eval core collects every Completion made inside one example (its per-example usage).
CALLS: Collector[Completion] = Collector("calls")
collect_calls = CALLS.collect
announce = CALLS.announce
