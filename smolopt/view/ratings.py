"""Blind rating of a free-text run's outputs against the task's references, kept in ratings.jsonl.

After the long-story source article's questionnaire: a reader sees anonymous texts one at a time,
some written by the run's model and some the task's references (hand-written or a teacher's,
`tasks/<task>/references.jsonl`), and rates each 1–5 for coherence, fluency, fit to the idea and
liking, then says whether a person or a model wrote it. Each rater gets their own shuffled order
(seeded by their name, so it survives a reload); a text's key is a hash of its words, so the page
never carries its origin. Ratings are appended to the run folder's ratings.jsonl; `summarize` turns
them into mean ratings by origin with bootstrap intervals and how often each origin was taken for a
person's, and each rating saved puts that table at the end of the run's report.md too (the only
two files the view writes, but for pairs.key: smolopt.view.pairs). The blind pairs' answers, base
or tuned, are rows of the same file (smolopt.view.preference), and their table follows this one.
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smolopt.jsonl import append_jsonl, checked_rows
from smolopt.report import Section, section_markdown
from smolopt.stats import bootstrap_interval
from smolopt.view.preference import SCALE, is_pair, pair_problem, preference_section, summarize_pairs
from smolopt.view.runs_index import RunFolder

FILENAME = "ratings.jsonl"
REPORT = "report.md"
SECTION_TITLE = "Blind ratings"
QUESTIONS = {
    "coherence": "Coherence: do its events and ideas hang together?",
    "fluency": "Fluency: is it well-formed, natural English?",
    "fit": "Fit to the idea: is it the text the title, genre and constraints ask for?",
    "liking": "Liking: how much did you enjoy reading it?",
}
GUESSES = ("person", "model")
MAX_RATER_CHARS = 60


class BadRating(ValueError):
    """A submitted form or a ratings.jsonl line that is not a rating; the message says what is wrong."""


@dataclass(frozen=True)
class Text:
    """One text to rate; `key` says nothing of where it came from."""

    key: str
    origin: str  # "model: <name>" or "reference: <teacher>"
    example_id: str
    idea: dict[str, Any]
    text: str


def text_key(example_id: str, text: str) -> str:
    return hashlib.sha256(f"{example_id}\0{text}".encode()).hexdigest()[:16]


def texts_to_rate(run: RunFolder) -> list[Text]:
    """The run's final outputs and the references for the same ideas (raises SmoloptError on a bad references file)."""
    final = run.final_evaluation()
    if final is None or not run.free_text:
        return []
    examples = [e for e in final[1].examples if e.parsed and (e.predicted or "").strip()]
    references = run.task.references()
    texts = [Text(text_key(e.id, e.predicted or ""), f"model: {run.model}", e.id, run.task.inputs_of(e.id), e.predicted or "") for e in examples]
    for example in final[1].examples:
        if (row := references.get(example.id)) is not None:
            words = run.task.reference_text(row)
            texts.append(Text(text_key(example.id, words), f"reference: {row.get('teacher', 'unknown')}", example.id,
                              run.task.inputs_of(example.id), words))
    return list({text.key: text for text in texts}.values())


def rater_order(texts: list[Text], rater: str) -> list[Text]:
    """The texts in this rater's own order: a shuffle seeded by the name, the same on every visit."""
    ordered = sorted(texts, key=lambda text: text.key)
    random.Random(int(hashlib.sha256(rater.encode()).hexdigest()[:16], 16)).shuffle(ordered)
    return ordered


def clean_rater(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise BadRating("give your name (or any nickname) so your ratings can be told from others'")
    if len(name) > MAX_RATER_CHARS:
        raise BadRating(f"a rater name has at most {MAX_RATER_CHARS} characters")
    return name


def rating_problem(row: Any) -> str | None:
    """What is wrong with a line of ratings.jsonl, or None (a blind pair answer is one too: smolopt.view.preference)."""
    if is_pair(row):
        return pair_problem(row)
    if isinstance(row, dict) and all(isinstance(row.get(q), int) for q in QUESTIONS) and row.get("guess") in GUESSES:
        return None
    return f"expected a rating with {', '.join(QUESTIONS)} (1-5) and guess person/model"


def read_ratings(run_path: Path) -> list[dict[str, Any]]:
    """Every rating in the run's ratings.jsonl ([] without one); a bad line raises BadRating naming it."""
    path = run_path / FILENAME
    if not path.is_file():
        return []
    return checked_rows(path.read_text(encoding="utf-8"), path, rating_problem, BadRating)


def next_text(texts: list[Text], ratings: list[dict[str, Any]], rater: str) -> tuple[Text | None, int]:
    """The rater's next unrated text (None when done) and how many they have rated."""
    done = {row.get("text") for row in ratings if row.get("rater") == rater}
    ordered = rater_order(texts, rater)
    return next((text for text in ordered if text.key not in done), None), sum(text.key in done for text in ordered)


def rating_row(form: dict[str, str], texts: list[Text]) -> dict[str, Any]:
    """The ratings.jsonl row for a submitted form (raises BadRating on anything missing or out of range)."""
    rater = clean_rater(form.get("rater", ""))
    text = next((t for t in texts if t.key == form.get("text")), None)
    if text is None:
        raise BadRating("that text is not one of this run's texts to rate (was the run changed?)")
    row: dict[str, Any] = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "rater": rater, "text": text.key,
                           "example": text.example_id, "origin": text.origin}
    for question in QUESTIONS:
        value = form.get(question, "")
        if not value.isdigit() or int(value) not in SCALE:
            raise BadRating(f"rate {question} from 1 to 5")
        row[question] = int(value)
    if form.get("guess") not in GUESSES:
        raise BadRating("say whether you think a person or a model wrote it")
    row["guess"] = form["guess"]
    return row


def save_rating(run_path: Path, row: dict[str, Any]) -> None:
    """Append the rating to ratings.jsonl, then refresh the ratings table in the run's report.md.

    The run wrote report.md before anyone could rate, and a report is only complete with its
    ratings, so each rating saved rewrites that one section (a file with a bad line raises BadRating
    before anything is written)."""
    ratings = read_ratings(run_path) + [row]
    append_jsonl(run_path / FILENAME, row)
    report = run_path / REPORT
    if report.is_file():
        report.write_text(with_ratings(report.read_text(encoding="utf-8"), report_sections(ratings)), encoding="utf-8")


@dataclass(frozen=True)
class Mean:
    value: float
    low: float
    high: float


def mean(values: list[float]) -> Mean:
    low, high = bootstrap_interval(values)
    return Mean(sum(values) / len(values), low, high)


@dataclass(frozen=True)
class OriginRatings:
    """Ratings of the texts of one origin: mean per question and the share taken for a person's, each with its 95% interval."""

    origin: str
    ratings: int
    raters: int
    means: dict[str, Mean]
    taken_for_person: Mean


def summarize(ratings: list[dict[str, Any]]) -> list[OriginRatings]:
    by_origin: dict[str, list[dict[str, Any]]] = {}
    for row in (row for row in ratings if not is_pair(row)):
        by_origin.setdefault(str(row.get("origin", "?")), []).append(row)
    return [OriginRatings(origin, len(rows), len({row.get("rater") for row in rows}),
                          {q: mean([float(row[q]) for row in rows]) for q in QUESTIONS},
                          mean([float(row["guess"] == "person") for row in rows]))
            for origin, rows in sorted(by_origin.items())]


RATING_HEADERS = ["origin", "ratings (raters)", *QUESTIONS, "taken for a person's"]


def rating_rows(summary: list[OriginRatings]) -> list[list[str]]:
    """One row per origin: each mean with its 95% bootstrap interval, as a report table shows them."""
    def shown(m: Mean, scale: str = "") -> str:
        return f"{100 * m.value:.0f}% [{100 * m.low:.0f}, {100 * m.high:.0f}]" if scale == "%" else f"{m.value:.2f} [{m.low:.2f}, {m.high:.2f}]"
    return [[s.origin, f"{s.ratings} ({s.raters})", *(shown(s.means[q]) for q in QUESTIONS), shown(s.taken_for_person, "%")]
            for s in summary]


def ratings_section(summary: list[OriginRatings]) -> Section:
    """The mean ratings table, laid out once: the run page and report.md both show this section."""
    return Section(SECTION_TITLE, RATING_HEADERS, rating_rows(summary), "mean rating 1–5 by origin, 95% bootstrap intervals")


def report_sections(ratings: list[dict[str, Any]]) -> list[Section]:
    """The ratings' sections: mean ratings by origin, and base or tuned side by side, each once it has answers."""
    summary, preference = summarize(ratings), summarize_pairs(ratings)
    return [*([ratings_section(summary)] if summary else []), *([preference_section(preference)] if preference else [])]


def without_ratings(report: str) -> str:
    """report.md as the run wrote it: without the ratings sections `save_rating` put at its end
    (each one's title starts with SECTION_TITLE)."""
    return report.split(f"\n## {SECTION_TITLE}", 1)[0]


def with_ratings(report: str, sections: list[Section]) -> str:
    """report.md with `sections` as its last sections, in place of those an earlier rating put there."""
    return without_ratings(report).rstrip("\n") + "".join(f"\n\n{section_markdown(section)}" for section in sections) + "\n"
