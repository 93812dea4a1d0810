"""Respecting the rule budget a capacity probe measured.

`smolopt probe` finds how many extra rules a model's instruction can take before accuracy falls
(the knee of its instruction-load curve) and writes it to probe.json as `rule_budget[model][task]`.
The optimize command reads it back here (`probed_rule_budget`) and hands it to the search, which
flags candidates whose instructions carry far more added sentences; the search itself never reads
run directories.
"""

from __future__ import annotations

import json
from pathlib import Path

from smolopt.adapters.echo import sentences
from smolopt.adapters.parsing import normalize
from smolopt.candidate import is_instruction_key
from smolopt.runs import runs_dir


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


def probed_rule_budget(model: str, task: str, root: Path | None = None) -> int | None:
    """The rule budget from the newest probe.json under `root` that measured this model on this task."""
    for path in sorted((root or runs_dir()).glob("*-probe-*/probe.json"), reverse=True):
        try:
            budget = json.loads(path.read_text(encoding="utf-8"))["rule_budget"][model][task]
        except (KeyError, TypeError, ValueError, OSError):
            continue
        return int(budget)
    return None
