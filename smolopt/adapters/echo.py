"""Echo detection: did the model repeat its prompt instead of answering it?

A 135M model treats prohibition text as content: told "DO NOT echo the input", it writes
"DO NOT echo the input" and then echoes the input. It also copies label definitions and the input
itself. Each echo is named by kind and line, counted per run, and handed to the optimizer as
feedback ("show an example instead of the rule").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

EchoKind = Literal["prohibition", "instruction", "definition", "input"]

_PROHIBITION = re.compile(r"^\s*(?:[-*•\d.)\s]*)(do not|don't|dont|never|must not|avoid|no )", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+")
MIN_LINE_WORDS = 3
MIN_INPUT_SPAN = 8


@dataclass(frozen=True)
class Echo:
    """One repeated line: what kind of prompt text it came from, and the line itself."""

    kind: EchoKind
    line: str


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def sentences(text: str) -> list[str]:
    """Lines, further split at sentence ends: the units a model copies."""
    parts = []
    for line in text.splitlines():
        parts.extend(piece.strip() for piece in re.split(r"(?<=[.!?])\s+", line) if piece.strip())
    return parts


def is_prohibition(line: str) -> bool:
    return bool(_PROHIBITION.match(line))


def _contains(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return any(haystack[i:i + n] == needle for i in range(len(haystack) - n + 1))


def _line_echoed(output_words: list[str], line: str) -> bool:
    """The whole line, or its first eight words when longer, appear in order in the output."""
    line_words = words(line)
    if len(line_words) < MIN_LINE_WORDS:
        return False
    return _contains(output_words, line_words[:MIN_INPUT_SPAN])


def _longest_shared_span(output_words: list[str], source_words: list[str]) -> int:
    """Length of the longest run of words the output shares with the source."""
    best = 0
    previous = [0] * (len(source_words) + 1)
    for out_word in output_words:
        current = [0] * (len(source_words) + 1)
        for j, src_word in enumerate(source_words, start=1):
            if out_word == src_word:
                current[j] = previous[j - 1] + 1
                best = max(best, current[j])
        previous = current
    return best


def find_echoes(output: str, *, instruction: str = "", definitions: list[str] = (), inputs: list[str] = ()) -> list[Echo]:
    """Every prompt line the output repeats.

    - prohibition / instruction: a line of the instruction (three words or more) reappears;
    - definition: a field or label description reappears;
    - input: the output copies an input verbatim, either eight words in a row or a whole short
      input, and that copy makes up at least half of what the model said.
    """
    output_words = words(output)
    if len(output_words) < MIN_LINE_WORDS:
        return []
    found: list[Echo] = []
    for line in sentences(instruction):
        if _line_echoed(output_words, line):
            found.append(Echo("prohibition" if is_prohibition(line) else "instruction", line))
    for definition in definitions:
        for line in sentences(definition):
            if _line_echoed(output_words, line):
                found.append(Echo("definition", line))
    for value in inputs:
        source = words(value)
        if len(source) < MIN_LINE_WORDS:
            continue
        span = _longest_shared_span(output_words, source)
        needed = min(MIN_INPUT_SPAN, len(source))
        if span >= needed and span * 2 >= len(output_words):
            found.append(Echo("input", " ".join(source[:12])))
    return found
