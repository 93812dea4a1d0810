"""Blind ratings in the run's report.md: each rating saved puts the mean ratings table, the same
section the run page shows, at the end of the report the run wrote before anyone could rate; and
ratings.jsonl and references.jsonl, read by one JSONL reader, name a bad line alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smolopt.errors import SmoloptError
from smolopt.references import read_references
from smolopt.report import Report, Section, markdown
from smolopt.view.ratings import BadRating, ratings_section, read_ratings, save_rating, summarize

REPORT = Report("smolopt eval: story on m", [("notice", "no judge")], [Section("story · m · test", ["measure", "value"], [["mean score", "41.0%"]])])


def rated(origin: str, score: int, guess: str) -> dict:
    return {"origin": origin, "rater": f"r{score}", "text": f"t{score}", "coherence": score, "fluency": score, "fit": score,
            "liking": score, "guess": guess}


def test_each_rating_saved_refreshes_the_one_ratings_section_at_the_end_of_report_md(tmp_path: Path):
    (tmp_path / "report.md").write_text(markdown(REPORT))
    rows = [rated("model: m", 2, "model"), rated("reference: people", 5, "person")]
    for row in rows:
        save_rating(tmp_path, row)
    # The report as if the run had laid the ratings out itself: one table, replaced, not appended again.
    expected = Report(REPORT.title, REPORT.facts, [*REPORT.sections, ratings_section(summarize(rows))])
    assert (tmp_path / "report.md").read_text() == markdown(expected)
    assert [json.loads(line) for line in (tmp_path / "ratings.jsonl").read_text().splitlines()] == rows


def test_a_bad_ratings_line_stops_the_save_before_either_file_changes(tmp_path: Path):
    (tmp_path / "report.md").write_text(markdown(REPORT))
    (tmp_path / "ratings.jsonl").write_text(json.dumps(rated("model: m", 2, "model")) + "\n{not json\n")
    with pytest.raises(BadRating, match=r"ratings\.jsonl:2: not valid JSON"):
        save_rating(tmp_path, rated("model: m", 4, "person"))
    assert (tmp_path / "report.md").read_text() == markdown(REPORT)
    assert len((tmp_path / "ratings.jsonl").read_text().splitlines()) == 2


def test_a_run_without_report_md_keeps_its_ratings_only(tmp_path: Path):
    save_rating(tmp_path, rated("model: m", 3, "model"))
    assert not (tmp_path / "report.md").exists() and (tmp_path / "ratings.jsonl").is_file()


def test_references_and_ratings_name_a_bad_line_alike(tmp_path: Path):
    (tmp_path / "references.jsonl").write_text('{"id": "a", "story": "x"}\n\n{"id": "b"}\n')
    (tmp_path / "ratings.jsonl").write_text(json.dumps(rated("model: m", 2, "model")) + "\n\n" + '{"coherence": 9}\n')
    with pytest.raises(SmoloptError, match=r"references\.jsonl:3: expected an object with string fields 'id' and 'story'"):
        read_references(tmp_path, "story")
    with pytest.raises(BadRating, match=r"ratings\.jsonl:3: expected a rating with coherence"):
        read_ratings(tmp_path)
