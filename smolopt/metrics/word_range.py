"""The word-range part: is the text as long as asked, and if not, how far off and which way."""

from __future__ import annotations

import re

from smolopt.metrics.parts import Part

_RANGE = re.compile(r"^\s*(\d+)\s*(?:-|–|to)\s*(\d+)\s*$")
_WORD = re.compile(r"[\w'’-]+")


def parse_range(text: str) -> tuple[int, int]:
    """"150-300" → (150, 300); anything else is a ValueError naming the text."""
    match = _RANGE.match(str(text))
    if not match or int(match.group(1)) > int(match.group(2)):
        raise ValueError(f"words_range {text!r} is not a range such as '150-300'")
    return int(match.group(1)), int(match.group(2))


def count_words(text: str) -> int:
    return len(_WORD.findall(text or ""))


def word_range_part(text: str, words_range: str) -> Part:
    """1 inside the range; outside, one minus the distance as a share of the nearer bound (0 at
    twice the maximum or at nothing), so a story 10% too long loses a tenth, not everything."""
    low, high = parse_range(words_range)
    words = count_words(text)
    if low <= words <= high:
        return Part("word range", 1.0, f"{words} words, inside {low}-{high}.")
    if words < low:
        off = low - words
        return Part("word range", max(0.0, 1 - off / low), f"{words} words: {off} too few for {low}-{high}; write more.")
    off = words - high
    return Part("word range", max(0.0, 1 - off / high), f"{words} words: {off} too many for {low}-{high}; cut it down.")
