"""Format mutation: GEPA searches how a predictor is asked (chat or completion, generate or score,
calibrated or not) the way it searches its instruction and demos.

The format axis is small and discrete, so the proposer does not guess: from a parent it proposes
the next format in `formats.ALL` order (the measured best for tiny models first) that this parent
has not been given yet, and only formats the predictor can use (scoring needs a label field).
Whether the change is kept is decided as for any mutation, by GEPA's minibatch acceptance.
"""

from __future__ import annotations

import json

import dspy

from smolopt.adapters import usable_formats
from smolopt.adapters.formats import Format, parse_format
from smolopt.candidate import format_key


class FormatProposer:
    """Proposes, per parent candidate, each usable format once, best-measured first."""

    def __init__(self, program: dspy.Module):
        self.usable = {name: usable_formats(predictor.signature) for name, predictor in program.named_predictors()}
        self._given: dict[str, set[Format]] = {}

    def propose(self, predictor: str, candidate: dict[str, str]) -> str | None:
        """The next format for `predictor` from this parent, or None when every usable one was given."""
        current = parse_format(candidate[format_key(predictor)])
        parent = json.dumps(candidate, sort_keys=True)
        given = self._given.setdefault(f"{predictor}\n{parent}", {current})
        for fmt in self.usable[predictor]:
            if fmt not in given:
                given.add(fmt)
                return str(fmt)
        return None
