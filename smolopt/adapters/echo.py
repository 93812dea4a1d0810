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
MIN_LINE_PREFIX = 8
MIN_INPUT_ECHO_WORDS = 5
INPUT_ECHO_SHARE = 0.6


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
    return _contains(output_words, line_words[:MIN_LINE_PREFIX])


def copy_fraction(text: str, source: str, run: int) -> float:
    """Share of `text`'s words inside a run of `run`+ consecutive words that also occurs in `source`."""
    text_words, source_words = words(text), words(source)
    if len(text_words) < run:
        return 0.0
    grams = {tuple(source_words[i:i + run]) for i in range(len(source_words) - run + 1)}
    covered = [False] * len(text_words)
    for i in range(len(text_words) - run + 1):
        if tuple(text_words[i:i + run]) in grams:
            covered[i:i + run] = [True] * run
    return sum(covered) / len(text_words)


def find_echoes(output: str, *, instruction: str = "", definitions: list[str] = (), inputs: list[str] = ()) -> list[Echo]:
    """Every prompt line the output repeats.

    - prohibition / instruction: a line of the instruction (three words or more) reappears;
    - definition: a field or label description reappears;
    - input: at least five words, most of them (60%) copied from one input in runs of three or
      more. A short answer that quotes a span of its input (extractive QA does) is not an echo.
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
    if len(output_words) >= MIN_INPUT_ECHO_WORDS:
        for value in inputs:
            if copy_fraction(output, value, run=MIN_LINE_WORDS) >= INPUT_ECHO_SHARE:
                found.append(Echo("input", " ".join(words(value)[:12])))
    return found
