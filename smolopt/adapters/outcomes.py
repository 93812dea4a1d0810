"""What each RawTextAdapter call produced besides its fields, announced for the evaluation core.

Whether the reply parsed, which prompt lines it echoed, and (for calibrated formats) the label
chosen before calibration. The eval core collects these for every predictor an example runs, so
a two-step program's first-step parse failures and echoes count without the task forwarding them.
"""

from __future__ import annotations

from dataclasses import dataclass

from smolopt.adapters.echo import Echo
from smolopt.collector import Collector


@dataclass(frozen=True)
class Outcome:
    """One predictor call's parse error (None when it parsed), echoes, and pre-calibration label."""

    parse_error: str | None
    echoes: tuple[Echo, ...] = ()
    uncalibrated: str | None = None


OUTCOMES: Collector[Outcome] = Collector("adapter outcomes")
collect_outcomes = OUTCOMES.collect
