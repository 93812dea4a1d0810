"""The raw calls behind one example, from the run's calls.jsonl.

calls.jsonl records each call's request body and reply (smolopt.backends.calls) but not which
example asked it: a judge's calls, a calibration batch and GEPA's search interleave with the
examples'. So a call belongs to an example when its request carries the example's longest input
text, as the log wrote it (JSON with ensure_ascii off). That finds the example's own calls in every
format, its retries, and a judge's calls about it; the page says how they were matched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MIN_KEY_CHARS = 12  # shorter inputs ("1", "yes") would match unrelated calls


def match_key(inputs: dict[str, Any]) -> str | None:
    """The text a call's logged line must contain to be this example's: its longest string input."""
    texts = [value for value in inputs.values() if isinstance(value, str) and len(value) >= MIN_KEY_CHARS]
    return json.dumps(max(texts, key=len), ensure_ascii=False)[1:-1] if texts else None


def calls_for(calls_path: Path, inputs: dict[str, Any], limit: int = 50) -> list[dict[str, Any]]:
    """The first `limit` logged calls whose request carries the example's input text."""
    key = match_key(inputs)
    if key is None or not calls_path.is_file():
        return []
    found = []
    with calls_path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if key in line:
                try:
                    found.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # a line cut off by a killed run
                if len(found) >= limit:
                    break
    return found
