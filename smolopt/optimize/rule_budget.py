"""Respecting the rule budget a capacity probe measured.

`smolopt probe` finds how many extra rules a model's instruction can take before accuracy falls
(the knee of its instruction-load curve; `smolopt.probe.budget` reads it back). `optimize` is
handed that number and flags candidates whose instructions carry far more added sentences.
"""

from __future__ import annotations

from smolopt.adapters.echo import sentences
from smolopt.adapters.parsing import normalize
from smolopt.candidate import is_instruction_key


def added_sentences(seed: dict[str, str], candidate: dict[str, str]) -> int:
    """Sentences in the candidate's instructions that the seed's instructions do not have."""
    added = 0
    for key, text in candidate.items():
        if not is_instruction_key(key):
            continue
        known = {normalize(s) for s in sentences(seed.get(key, ""))}
        added += sum(normalize(s) not in known for s in sentences(text))
    return added


def past_budget(added: int, budget: int) -> bool:
    """Far past the budget: more than twice it, and at least two sentences more."""
    return added > max(2 * budget, budget + 2)
