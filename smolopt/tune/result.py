"""What a tune found: its epochs, the adapter, and the arms measured on test (numbers only)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from smolopt.baseline import RESULTS_KEY as BASELINE_KEY
from smolopt.baseline import Baseline
from smolopt.runs import Run
from smolopt.tune.arms import Arm, arm_evaluations, arm_rows
from smolopt.tune.train import Trained
from smolopt.usage import Usage


@dataclass
class Tuned:
    """What a tune found: the epochs, the adapter, and base vs tuned on test."""

    run: Run
    trained: Trained
    adapter: Path
    tune_seconds: float
    peak_memory_mb: float
    arms: list[Arm] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    # A multi-step program's traces: examples tried and scored right, steps per predictor, per split
    # (smolopt.tune.traces); None when every program trained on gold targets.
    steps: dict[str, Any] | None = None
    baseline: Baseline | None = None  # embeddings + logistic regression on the same test split (None: free text or not measurable)
    usage: Usage | None = None  # how to use the program.json it saved, with the adapter

    def to_json(self) -> dict[str, Any]:
        return {
            "adapter": str(self.adapter), "tune_seconds": self.tune_seconds, "peak_memory_mb": self.peak_memory_mb,
            "epochs": [asdict(e) for e in self.trained.history], "best_epoch": self.trained.best.epoch,
            "stopped_early": self.trained.stopped_early, "resumed_from_epoch": self.trained.resumed_from,
            "skipped_too_long": self.trained.skipped, "settings": self.trained.settings,
            "arms": arm_rows(self.arms) if self.arms else [], **arm_evaluations(self.arms), "steps": self.steps,
            BASELINE_KEY: self.baseline.to_json() if self.baseline else None,
        }
