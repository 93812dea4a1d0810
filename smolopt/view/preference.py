"""Blind pair answers in ratings.jsonl ("kind": "pair"), and how often the tuned text was preferred.

A pair answer says which of two texts for the same idea a reader preferred, base or tuned (or
"same"), and optionally rates each 1–5; the page that asks is smolopt.view.pairs. The rows live in
the run's one ratings file beside the origin ratings (smolopt.view.ratings reads and writes it), so
this module holds their shape and their numbers: the share of answers that preferred tuned, a tie
counting half (so 50% means no preference either way), with its 95% bootstrap interval over the
answers, and each side's mean rating. The page and report.md format them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from smolopt.report import Section
from smolopt.stats import bootstrap_interval

KIND = "pair"
ROLES = ("base", "tuned")
CHOICES = (*ROLES, "same")
SCALE = range(1, 6)  # every rating the view asks for, the origin ratings' too (smolopt.view.ratings)
TITLE = "Blind ratings: base or tuned, side by side"
WORTH = {"tuned": 1.0, "same": 0.5, "base": 0.0}  # an answer's worth to the tuned side


def is_pair(row: Any) -> bool:
    return isinstance(row, dict) and row.get("kind") == KIND


def pair_problem(row: dict[str, Any]) -> str | None:
    """What is wrong with a pair answer of ratings.jsonl, or None."""
    ratings = row.get("ratings")
    if (isinstance(row.get("example"), str) and isinstance(row.get("rater"), str) and row.get("preferred") in CHOICES and row.get("a") in ROLES
            and isinstance(ratings, dict) and set(ratings) <= set(ROLES) and all(type(value) is int and value in SCALE for value in ratings.values())
            and all(isinstance(row.get(role), str) for role in ROLES)):
        return None
    return ("expected a pair answer with rater, example, a (base/tuned shown as A), preferred (base/tuned/same), "
            "base and tuned (their evaluations), and ratings {base, tuned: 1-5}")


@dataclass(frozen=True)
class Share:
    value: float
    low: float
    high: float
    n: int


def share(values: list[float]) -> Share:
    """The mean of `values` (not empty) with its 95% bootstrap interval."""
    return Share(sum(values) / len(values), *bootstrap_interval(values), len(values))


@dataclass(frozen=True)
class Preference:
    """All pair answers of a run: counts, the share that preferred tuned, and each side's mean rating."""

    answers: int
    raters: int
    counts: dict[str, int]  # base / tuned / same
    tuned_preferred: Share
    ratings: dict[str, Share | None]  # role -> mean 1-5 rating, None when no answer rated that side
    evaluations: dict[str, str]  # role -> the evaluation its texts came from (results.json key)


def summarize_pairs(rows: list[dict[str, Any]]) -> Preference | None:
    """The run's pair answers in numbers; None when there are none."""
    pairs = [row for row in rows if is_pair(row)]
    if not pairs:
        return None
    rated = {role: [float(row["ratings"][role]) for row in pairs if role in row["ratings"]] for role in ROLES}
    return Preference(len(pairs), len({row["rater"] for row in pairs}), {choice: sum(row["preferred"] == choice for row in pairs) for choice in CHOICES},
                      share([WORTH[row["preferred"]] for row in pairs]), {role: share(values) if values else None for role, values in rated.items()},
                      {role: str(pairs[-1][role]) for role in ROLES})


HEADERS = ["answers (raters)", "tuned preferred [95% CI]", "tuned / base / same", "rating: base", "rating: tuned"]


def preference_section(preference: Preference) -> Section:
    """The pair answers as the run page and report.md show them (the library's numbers, formatted here)."""
    def rating(found: Share | None) -> str:
        return f"{found.value:.2f} [{found.low:.2f}, {found.high:.2f}] ({found.n})" if found else "-"
    p, counts = preference.tuned_preferred, preference.counts
    row = [f"{preference.answers} ({preference.raters})", f"{100 * p.value:.0f}% [{100 * p.low:.0f}, {100 * p.high:.0f}]",
           f"{counts['tuned']} / {counts['base']} / {counts['same']}", rating(preference.ratings["base"]), rating(preference.ratings["tuned"])]
    sides = ", ".join(f"{role}: {preference.evaluations[role]}" for role in ROLES)
    return Section(TITLE, HEADERS, [row], f"{sides}; a tie counts half; 95% bootstrap intervals; mean rating 1–5 (texts rated)")
