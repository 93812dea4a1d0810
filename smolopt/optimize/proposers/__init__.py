"""Proposers: each one class with `propose(candidate, component, records) -> Proposed`.

- `FormatProposer`: the next untried format (chat/completion, generate/score, calibrated);
- `FewShotProposer`: demos from the parent's failures, label-balanced, bias-ordered, sized to fit;
- `EchoGuardProposer`: echoed "DO NOT …" lines replaced by demos;
- `ReflectiveProposer`: a rewrite by the reflection model, guarded before any evaluation.
"""

from smolopt.optimize.proposers.base import Proposed, Proposer, Records
from smolopt.optimize.proposers.echo_guard import EchoGuardProposer, without_prohibitions
from smolopt.optimize.proposers.fewshot import FewShotProposer, PromptFit, bias_order
from smolopt.optimize.proposers.format import FormatProposer
from smolopt.optimize.proposers.reflective import ReflectiveProposer

__all__ = [
    "Proposed", "Proposer", "Records", "EchoGuardProposer", "FewShotProposer", "FormatProposer", "PromptFit", "ReflectiveProposer",
    "bias_order", "without_prohibitions",
]
