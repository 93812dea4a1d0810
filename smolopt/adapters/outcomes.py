"""What each RawTextAdapter call produced besides its fields, announced for the evaluation core.

The one carrier of parse and echo facts: which fields the call answered, what the model said,
whether that parsed, which prompt lines it echoed, and (for calibrated formats) the label chosen
before calibration. Predictions carry only their fields (and the reply text, for trace readers);
the eval core collects an Outcome for every predictor call an example runs, so a two-step
program's first-step parse failures and echoes count without the task forwarding them.

Collections are per context (`smolopt.collector`): examples run on several threads each collect
their own outcomes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from smolopt.adapters.echo import Echo
from smolopt.collector import Collector


@dataclass(frozen=True)
class Outcome:
    """One predictor call: its output fields, the model's reply, the parse error (None when it
    parsed), echoes, and pre-calibration label."""

    fields: tuple[str, ...]
    raw: str
    parse_error: str | None
    echoes: tuple[Echo, ...] = ()
    uncalibrated: str | None = None


def answer_outcome(outcomes: Sequence[Outcome], field: str) -> Outcome | None:
    """The call that wrote `field` (the last one that did): whether the program's answer could be read.
    None when no adapter call wrote it (a module that assembles its answer itself)."""
    return next((outcome for outcome in reversed(outcomes) if field in outcome.fields), None)


OUTCOMES: Collector[Outcome] = Collector("adapter outcomes")
collect_outcomes = OUTCOMES.collect
