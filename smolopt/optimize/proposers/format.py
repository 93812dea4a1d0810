"""Format mutation: GEPA searches how a predictor is asked (chat or completion, generate or score,
calibrated or not) the way it searches its instruction and demos.

The format axis is small and discrete, so the proposer does not guess: from a parent it proposes
the next format in `formats.ALL` order (the measured best for tiny models first) that this parent
has not been given yet, and only formats the predictor can use (scoring needs a label field).
Whether the change is kept is decided as for any mutation, by GEPA's minibatch acceptance.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import dspy

from smolopt.adapters import usable_formats
from smolopt.adapters.formats import Format, parse_format
from smolopt.candidate import format_key, predictor_of
from smolopt.optimize.proposers.base import Proposed, Records


class FormatProposer:
    """Proposes, per parent candidate, each usable format once, best-measured first."""

    name = "format"

    def __init__(self, program: dspy.Module, chats: bool = True, serves: Callable[[Format], bool] = lambda fmt: True):
        """`chats`: whether the student has a chat template (without one, only completion formats are proposed).
        `serves`: whether the server the program will be deployed on can ask that way (`optimize --deploy`)."""
        self.usable = {name: [fmt for fmt in usable_formats(predictor.signature, chats) if serves(fmt)]
                       for name, predictor in program.named_predictors()}
        self._given: dict[str, set[Format]] = {}

    def propose(self, candidate: dict[str, str], component: str, records: Records) -> Proposed | None:
        """None when every usable format was given to this parent already."""
        predictor = predictor_of(component)
        key = format_key(predictor)
        current = parse_format(candidate[key])
        given = self._given.setdefault(f"{predictor}\n{json.dumps(candidate, sort_keys=True)}", {current})
        for fmt in self.usable[predictor]:
            if fmt not in given:
                given.add(fmt)
                return Proposed(self.name, {key: str(fmt)}, f"{current} → {fmt}", text=str(fmt))
        return None
