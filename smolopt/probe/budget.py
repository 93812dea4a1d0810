"""The rule budget a probe measured, for `optimize` to respect.

`smolopt probe` finds how many extra rules a model's instruction can take before accuracy falls
(the knee of its instruction-load curve) and writes it to probe.json as
`rule_budget[model][task]`. The caller of `optimize` looks it up here and passes it in, so the
optimizer itself never searches run directories.
"""

from __future__ import annotations

import json
from pathlib import Path

from smolopt.runs import runs_dir


def probed_rule_budget(model: str, task: str, root: Path | None = None) -> int | None:
    """The rule budget from the newest probe.json under `root` that measured this model on this task."""
    for path in sorted((root or runs_dir()).glob("*-probe-*/probe.json"), reverse=True):
        try:
            budget = json.loads(path.read_text(encoding="utf-8"))["rule_budget"][model][task]
        except (KeyError, TypeError, ValueError, OSError):
            continue
        return int(budget)
    return None
