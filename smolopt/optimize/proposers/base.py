"""The one protocol every proposer follows, and what a proposal is.

GEPA asks smolopt's adapter for new text for one component of a candidate (a predictor's
instruction, its demos, or its format). The adapter hands the request down a chain of proposers
(`SmoloptGEPAAdapter.chains`); each proposes an update, proposes something its guards reject
(with the reason), or returns None when it does not apply (an echo guard with nothing echoed).
The first update wins. Every proposal, rejections included, goes to the run's journal in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

# What the evaluation of the parent on a minibatch said, per example: inputs, raw output,
# feedback, score, example id, echo kinds (see SmoloptGEPAAdapter.make_reflective_dataset).
Records = Sequence[Mapping[str, Any]]


@dataclass
class Proposed:
    """A proposer's answer: new texts by component, or the reason it has none to offer."""

    proposer: str
    updates: dict[str, str] = field(default_factory=dict)
    note: str = ""
    rejected: str | None = None  # why nothing may be evaluated; None when `updates` may
    text: str = ""  # what was proposed, for the journal (a rejected text too)

    @classmethod
    def refuse(cls, proposer: str, reason: str, text: str = "") -> Proposed:
        return cls(proposer, rejected=reason, text=text)


class Proposer(Protocol):
    """Proposes new text for one component of a candidate, from the parent's minibatch records."""

    name: str

    def propose(self, candidate: dict[str, str], component: str, records: Records) -> Proposed | None: ...
