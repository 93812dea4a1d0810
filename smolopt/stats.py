"""Bootstrap intervals: 24 test examples make a 95% interval about ±20 points wide, and reports say so."""

from __future__ import annotations

import random
from collections.abc import Sequence


def bootstrap_interval(scores: Sequence[float], *, resamples: int = 2000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean score."""
    if not scores:
        return (0.0, 0.0)
    rng = random.Random(seed)
    n = len(scores)
    means = sorted(sum(rng.choices(scores, k=n)) / n for _ in range(resamples))
    tail = (1.0 - level) / 2
    return means[int(tail * resamples)], means[min(resamples - 1, int((1 - tail) * resamples))]


def paired_difference_interval(before: Sequence[float], after: Sequence[float], *, resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Bootstrap interval of mean(after - before) over the same examples."""
    diffs = [a - b for a, b in zip(after, before, strict=True)]
    return bootstrap_interval(diffs, resamples=resamples, seed=seed)
