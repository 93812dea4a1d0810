"""Train / val / test for a user's rows: sized for the data, stratified by label, the same every time.

Sizes (`target_sizes`):

    test   a third of the rows for up to SMALL rows (the 30-150 rows a user labels by hand: the
           score that says whether it worked is measured on rows nothing was tuned on, and 25 rows
           of 75 give it a 95% interval of about ±16 points at 80%, where a sixth would give ±22);
           above that a fifth, between TEST_MIN and TEST_MAX rows (200 rows measure 80% within
           ±5.5 points, and each arm of `optimize --weights lora` is scored on all of them)
    val    VAL_SHARE of the rest, at most VAL_MAX: it picks GEPA's candidates and the tune's epoch,
           and GEPA scores every candidate it keeps on all of it (100 rows: ±8 points at 80%)
    train  the rest: the demos and the LoRA tune's data (agent_monitor's 48 traces are split
           20 / 12 / 16 by hand, close to this rule's 19 / 13 / 16)

Stratified (`assign`): each label's rows go to the splits in those proportions, rounded, with at
least one in each, so every label is seen in train, picked on in val and measured in test. Which of
a label's rows go where is a shuffle seeded with the seed and the label, so the same file and seed
give the same splits, and a label added to the file does not reshuffle the others.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

SMALL = 150
TEST_SHARE_LARGE = 0.2
TEST_MIN, TEST_MAX = 50, 200
VAL_SHARE, VAL_MAX = 0.4, 100


@dataclass(frozen=True)
class Sizes:
    train: int
    val: int
    test: int

    @property
    def total(self) -> int:
        return self.train + self.val + self.test


def _rounded(value: float) -> int:
    return math.floor(value + 0.5)  # half up, not Python's half to even: 7.5 rows are 8 whatever the parity


def target_sizes(rows: int) -> Sizes:
    """How many of `rows` each split should get (see the module's docstring for why)."""
    if rows <= SMALL:
        test = _rounded(rows / 3)
    else:
        test = min(TEST_MAX, max(TEST_MIN, _rounded(rows * TEST_SHARE_LARGE)))
    val = min(VAL_MAX, _rounded((rows - test) * VAL_SHARE))
    return Sizes(train=rows - test - val, val=val, test=test)


def assign(strata: Sequence[str], sizes: Sizes, seed: int) -> list[str]:
    """The split of each row ("train", "val" or "test"), in the rows' order: each stratum (label; one
    for free text) shared out in the proportions of `sizes`, with at least one row in each split.
    Every stratum must have three rows or more."""
    splits = [""] * len(strata)
    for stratum in sorted(set(strata)):
        members = [index for index, key in enumerate(strata) if key == stratum]
        random.Random(f"{seed}/{stratum}").shuffle(members)
        count = len(members)
        # test, then test + val, each rounded from the exact share (so rounding never takes more than
        # half a row from train), kept within one row or more for every split
        test = min(max(1, _rounded(count * sizes.test / sizes.total)), count - 2)
        held = min(max(test + 1, _rounded(count * (sizes.test + sizes.val) / sizes.total)), count - 1)
        for position, index in enumerate(members):
            splits[index] = "test" if position < test else "val" if position < held else "train"
    return splits
