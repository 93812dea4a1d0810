"""Proposal guards: reject a reflection's answer before any evaluation is spent on it.

A reflection model can return nothing, run out of tokens mid-sentence, refuse, talk about the task
instead of rewriting the instruction, or (when it is itself a small model) copy its own prompt
back. None of those is a new instruction; evaluating them only burns the budget.

The reflection prompt asks for the instruction inside ``` fences, and a hosted chat model puts
prose around it ("Here is a revised instruction: ... This names the labels."). So the instruction
is what the first closed fence holds, and a reply that closes none is rejected: a refusal or a
comment has no fence, and a block cut off by the token limit has no end (tests/reflector_standin.py
plays each of these to a real run, tests/test_reflection_story.py).
"""

from __future__ import annotations

import re

from smolopt.adapters.echo import copy_fraction
from smolopt.adapters.parsing import normalize

MIN_COPY_RUN = 6
MAX_COPY_FRACTION = 0.5
_FENCE = re.compile(r"```(?:[a-zA-Z]*\n)?(.*?)```", re.DOTALL)
_OPENED = re.compile(r"```(?:[a-zA-Z]*\n)?(.*)", re.DOTALL)


def extract_instruction(reply: str) -> str:
    """The text inside the first closed ``` fence; else what follows an opening fence (a block cut
    off); else the whole reply (what the journal keeps of a reply with no fence)."""
    if match := _FENCE.search(reply):
        return match.group(1).strip()
    if match := _OPENED.search(reply):
        return match.group(1).strip()
    return reply.strip()


def rejection_reason(reply: str, finish_reason: str, prompt: str, current: str) -> str | None:
    """Why the instruction in a reflection's `reply` must not be evaluated, or None when it may be.

    A reply cut off after its fence closed still holds a whole instruction: only an unclosed fence
    makes it truncated."""
    proposal = extract_instruction(reply)
    if not proposal:
        return "empty proposal"
    if not _FENCE.search(reply):
        if finish_reason == "length":
            return "truncated proposal (the reflection ran out of tokens)"
        if _OPENED.search(reply):
            return "truncated proposal (its ``` block never closes)"
        return "no ``` block in the reply (a refusal or a comment, not an instruction)"
    if normalize(proposal) == normalize(current):
        return "proposal repeats the current instruction"
    prompt_without_current = prompt.replace(current, " ")
    share = copy_fraction(proposal, prompt_without_current, run=MIN_COPY_RUN)
    if share >= MAX_COPY_FRACTION:
        return f"proposal copies its own prompt ({share:.0%} of its words)"
    return None
