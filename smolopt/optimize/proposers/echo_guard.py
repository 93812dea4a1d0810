"""The echo guard: an instruction whose "DO NOT …" lines the student repeats loses those lines,
and gets demos instead (a 135M model copies prohibitions rather than obeying them; it follows
examples). No reflection call is spent on it.
"""

from __future__ import annotations

from smolopt.adapters.echo import is_prohibition, sentences
from smolopt.candidate import predictor_of
from smolopt.optimize.proposers.base import Proposed, Records
from smolopt.optimize.proposers.fewshot import FewShotProposer


def without_prohibitions(instruction: str) -> str:
    """The instruction minus its "DO NOT …"/"Never …" sentences."""
    return " ".join(line for line in sentences(instruction) if not is_prohibition(line))


class EchoGuardProposer:
    """Replaces echoed prohibitions by demos."""

    name = "echo guard"

    def __init__(self, fewshot: FewShotProposer):
        self.fewshot = fewshot

    def propose(self, candidate: dict[str, str], component: str, records: Records) -> Proposed | None:
        """None unless the student echoed a prohibition that this instruction holds."""
        predictor = predictor_of(component)
        current = candidate[predictor]
        rewritten = without_prohibitions(current)
        if rewritten == current or not any("prohibition" in r.get("echo_kinds", ()) for r in records):
            return None
        demos = self.fewshot.propose(candidate, component, records)
        return Proposed(self.name, {predictor: rewritten, **demos.updates}, f"prohibition replaced by demos ({demos.note})", text=rewritten)
