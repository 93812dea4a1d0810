"""Blind pairs: the base and the tuned text for the same idea, side by side as A and B.

A tune of a free-text task (story, long_story) measures one program on the base weights and on the
tuned ones over the same test ideas (results.json `base_test`, `tuned_test`); an optimize --weights
run, the prompt search's program on the base weights (`optimized_test`) and the tuned weights with
the second search's prompt (`both_test`). A reader sees each idea with its two texts, labelled only
A and B, picks the better one (or "same") and may rate each 1–5.

Which text is A is decided here and never sent: per rater, half the ideas show the tuned text first
and half the base text, shuffled by a random key kept in the run folder's pairs.key (a file the view
never serves) and the rater's name. So a reader's lean towards A cancels over their answers, a
reload shows the same page, another reader gets another draw, and an answer in ratings.jsonl (which
the view serves) tells nothing about the ideas still to read. The form sends the idea's id and
A, B or same; the answer is mapped to base or tuned here and kept as a "pair" row in ratings.jsonl
(smolopt.view.preference).
"""

from __future__ import annotations

import hashlib
import os
import random
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smolopt.evaluation import ExampleResult
from smolopt.optimize.shipped import ARM_KEYS
from smolopt.tune.arms import evaluation_key
from smolopt.view.preference import KIND, SCALE, is_pair
from smolopt.view.ratings import BadRating
from smolopt.view.runs_index import RunFolder

KEY_FILE = "pairs.key"
# (base, tuned) evaluations a run may hold; the first pair found is the one read blind.
SIDES = ((evaluation_key("base"), evaluation_key("tuned")), (ARM_KEYS["prompt"], ARM_KEYS["both"]))
LETTERS = ("A", "B")


def sides_of(run: RunFolder) -> tuple[str, str] | None:
    """The (base, tuned) evaluations of a free-text run that has both, else None."""
    if not run.free_text:
        return None
    return next(((base, tuned) for base, tuned in SIDES if base in run.evaluations and tuned in run.evaluations), None)


def run_key(run_path: Path) -> str:
    """The run's secret for drawing sides, made on first use. Written aside and linked into place,
    so two first requests at once agree on one key (a link never replaces a file)."""
    path = run_path / KEY_FILE
    if not path.is_file():
        draft = run_path / f".{KEY_FILE}.{secrets.token_hex(4)}"
        draft.write_text(secrets.token_hex(16), encoding="utf-8")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text(encoding="utf-8").strip()


@dataclass(frozen=True)
class Pairing:
    """A run's pairs for one rater; `tuned_first` stays on the server."""

    base: str  # evaluation names
    tuned: str
    examples: list[tuple[ExampleResult, ExampleResult]]  # (base, tuned) of each idea both hold, in the test split's order
    tuned_first: dict[str, bool]  # example id -> the tuned text is A

    def roles(self, example_id: str) -> dict[str, str]:
        """Letter -> role ("base" or "tuned") for this rater and idea."""
        first = ("tuned", "base") if self.tuned_first[example_id] else ("base", "tuned")
        return dict(zip(LETTERS, first, strict=True))


def shared_examples(run: RunFolder, sides: tuple[str, str]) -> list[tuple[ExampleResult, ExampleResult]]:
    tuned = {e.id: e for e in run.evaluations[sides[1]].examples}
    return [(e, tuned[e.id]) for e in run.evaluations[sides[0]].examples if e.id in tuned]


def pairing(run: RunFolder, sides: tuple[str, str], rater: str) -> Pairing:
    examples = shared_examples(run, sides)
    ids = sorted(base.id for base, _ in examples)
    first = [number % 2 == 0 for number in range(len(ids))]  # half each way
    random.Random(hashlib.sha256(f"{run_key(run.path)}\0{rater}".encode()).digest()).shuffle(first)
    return Pairing(*sides, examples, dict(zip(ids, first, strict=True)))


@dataclass(frozen=True)
class Shown:
    """One idea as the page shows it: its inputs and two texts, nothing that tells the sides apart."""

    number: int
    example_id: str
    idea: dict[str, Any]
    a: str
    b: str
    answer: str | None  # this rater's earlier choice (A, B or same), None when still to answer


def answers_of(pairing: Pairing, rater: str, ratings: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Example id -> this rater's answer about these two evaluations."""
    return {row["example"]: row for row in ratings
            if is_pair(row) and row["rater"] == rater and (row["base"], row["tuned"]) == (pairing.base, pairing.tuned)}


def letter_of(row: dict[str, Any]) -> str:
    """The letter the reader chose in an answer (its row keeps the role)."""
    return "same" if row["preferred"] == "same" else ("A" if row["preferred"] == row["a"] else "B")


def shown(run: RunFolder, pairing: Pairing, rater: str, ratings: list[dict[str, Any]]) -> list[Shown]:
    answers = answers_of(pairing, rater, ratings)
    found = []
    for number, (base, tuned) in enumerate(pairing.examples, start=1):
        texts = {"base": base.predicted or "", "tuned": tuned.predicted or ""}
        roles = pairing.roles(base.id)
        answer = answers.get(base.id)
        found.append(Shown(number, base.id, run.task.inputs_of(base.id), texts[roles["A"]], texts[roles["B"]],
                           letter_of(answer) if answer else None))
    return found


def answer_row(pairing: Pairing, rater: str, form: dict[str, str], ratings: list[dict[str, Any]]) -> tuple[dict[str, Any], int]:
    """The ratings.jsonl row for `rater`'s submitted answer, and the idea's number on the page (raises BadRating)."""
    example = form.get("example", "")
    numbers = {base.id: number for number, (base, _) in enumerate(pairing.examples, start=1)}
    if example not in numbers:
        raise BadRating("that idea is not one of this run's pairs (was the run changed?)")
    if example in answers_of(pairing, rater, ratings):
        raise BadRating(f"{rater} has compared the texts of idea {numbers[example]} already")
    choice = form.get("choice", "")
    if choice not in (*LETTERS, "same"):
        raise BadRating("pick A, B or same")
    roles = pairing.roles(example)
    rated = {}
    for letter, role in roles.items():
        value = form.get(f"rating_{letter.lower()}", "")
        if value and (not value.isdigit() or int(value) not in SCALE):
            raise BadRating(f"rate text {letter} from 1 to 5, or leave it unrated")
        if value:
            rated[role] = int(value)
    row = {"kind": KIND, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "rater": rater, "example": example,
           "base": pairing.base, "tuned": pairing.tuned, "a": roles["A"], "preferred": roles.get(choice, "same"), "ratings": rated}
    return row, numbers[example]
