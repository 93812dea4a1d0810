"""Proposal guards: reject a reflection's answer before any evaluation is spent on it.

A reflection model can return nothing, run out of tokens mid-sentence, or (when it is itself a
small model) copy its own prompt back. None of those is a new instruction; evaluating them only
burns the budget.
"""

from __future__ import annotations

import re

from smolopt.adapters.echo import words
from smolopt.adapters.parsing import normalize

MIN_COPY_RUN = 6
MAX_COPY_FRACTION = 0.5
_FENCE = re.compile(r"```(?:[a-zA-Z]*\n)?(.*?)```", re.DOTALL)


def extract_instruction(reply: str) -> str:
    """The text inside the first ``` fence, or the whole reply when there is none."""
    match = _FENCE.search(reply)
    if match:
        return match.group(1).strip()
    return reply.replace("```", "").strip()


def copy_fraction(text: str, source: str, run: int = MIN_COPY_RUN) -> float:
    """Share of `text`'s words that sit inside a run of `run`+ words also found in `source`."""
    text_words, source_words = words(text), words(source)
    if len(text_words) < run:
        return 0.0
    grams = {tuple(source_words[i:i + run]) for i in range(len(source_words) - run + 1)}
    covered = [False] * len(text_words)
    for i in range(len(text_words) - run + 1):
        if tuple(text_words[i:i + run]) in grams:
            for j in range(i, i + run):
                covered[j] = True
    return sum(covered) / len(text_words)


def rejection_reason(proposal: str, finish_reason: str, prompt: str, current: str) -> str | None:
    """Why a proposed instruction must not be evaluated, or None when it may be."""
    if not proposal.strip():
        return "empty proposal"
    if finish_reason == "length":
        return "truncated proposal (the reflection ran out of tokens)"
    if normalize(proposal) == normalize(current):
        return "proposal repeats the current instruction"
    prompt_without_current = prompt.replace(current, " ")
    share = copy_fraction(proposal, prompt_without_current)
    if share >= MAX_COPY_FRACTION:
        return f"proposal copies its own prompt ({share:.0%} of its words)"
    return None
