"""Proposal guards: reject a reflection's answer before any evaluation is spent on it.

A reflection model can return nothing, run out of tokens mid-sentence, or (when it is itself a
small model) copy its own prompt back. None of those is a new instruction; evaluating them only
burns the budget.
"""

from __future__ import annotations

import re

from smolopt.adapters.echo import copy_fraction
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


def rejection_reason(proposal: str, finish_reason: str, prompt: str, current: str) -> str | None:
    """Why a proposed instruction must not be evaluated, or None when it may be."""
    if not proposal.strip():
        return "empty proposal"
    if finish_reason == "length":
        return "truncated proposal (the reflection ran out of tokens)"
    if normalize(proposal) == normalize(current):
        return "proposal repeats the current instruction"
    prompt_without_current = prompt.replace(current, " ")
    share = copy_fraction(proposal, prompt_without_current, run=MIN_COPY_RUN)
    if share >= MAX_COPY_FRACTION:
        return f"proposal copies its own prompt ({share:.0%} of its words)"
    return None
