"""Blind pairs: a reader compares a tuned story run's base and tuned texts for the same ideas, as A and B.

No model: the run folder is written by hand in the shape `smolopt tune story` writes (config.json
from the scaffold's own task_config, results.json's arms and per-arm evaluations from the very
functions the tune calls), and `smolopt view` serves it to Debian's Chromium as in test_view_story.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cli_runner import small_task
from test_view_story import browser, page, view  # noqa: F401  # `view` serves this module's own `runs` below

from smolopt.evaluation import EvalResult, ExampleResult
from smolopt.optimize.shipped import ARM_KEYS
from smolopt.report import Report, markdown
from smolopt.scaffold import task_config
from smolopt.tasks import load_task
from smolopt.tune.arms import Arm, arm_evaluations, arm_rows
from smolopt.view.preference import summarize_pairs

RUN = "20250101-120000-tune-story_small"
WEIGHTS_RUN = "20250101-130000-optimize-story_small"  # optimize --weights lora: four arms on test
IDEAS = 6


def written(example_id: str, title: str, draft: str, score: float) -> ExampleResult:
    text = f"{title}. The {draft} draft of this story, for idea {example_id}."
    return ExampleResult(example_id, None, text, score, "word range ok", True, [], text, 1, 300, 120, 2.5, components={"words": score})


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """A runs folder holding a finished tune of a small story copy (base and tuned wrote a text for each
    test idea), and the four test evaluations of an optimize --weights run of it."""
    work = tmp_path_factory.mktemp("pairs")
    task = load_task(str(small_task("story", work / "story_small", IDEAS)))

    def evaluation(draft: str, score: float) -> EvalResult:
        return EvalResult(task.name, "smollm2-135m", "test", [written(str(e["id"]), e["title"], draft, score) for e in task.split("test")])

    arms = [Arm("base", "seed program: chat generate, 0 demos", None, evaluation("first", 0.4)),
            Arm("tuned", "seed program: chat generate, 0 demos", "adapter.gguf", evaluation("second", 0.7))]
    config = {**task_config(task), "model": {"entry": "smollm2-135m", "adapter": None, "adapter_sha256": None}, "created": "2025-01-01T12:00:00"}
    run = work / "runs" / RUN
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"command": "tune", **config, "program": None, "format": None}))
    results = {"adapter": str(run / "adapter.gguf"), "arms": arm_rows(arms), **arm_evaluations(arms), "complete": True, "notices": []}
    (run / "results.json").write_text(json.dumps(results))
    (run / "report.md").write_text(markdown(Report(f"smolopt tune: {task.name} on smollm2-135m", [("best epoch", "2")], [])))
    weights = work / "runs" / WEIGHTS_RUN
    weights.mkdir()
    (weights / "config.json").write_text(json.dumps({"command": "optimize", **config, "weights": "lora"}))
    (weights / "results.json").write_text(json.dumps({key: evaluation(arm, 0.5).to_json() for arm, key in ARM_KEYS.items()}))
    return work / "runs"


def drafts(runs: Path) -> dict[str, dict[str, str]]:
    """Example id -> arm -> the text it wrote, from results.json (what the server knows and the page must not tell)."""
    results = json.loads((runs / RUN / "results.json").read_text())
    return {e["id"]: {arm: next(x["predicted"] for x in results[f"{arm}_test"]["examples"] if x["id"] == e["id"]) for arm in ("base", "tuned")}
            for e in results["base_test"]["examples"]}


def test_a_reader_compares_base_and_tuned_blind_and_the_run_shows_how_often_tuned_won(view, runs, page):
    texts = drafts(runs)
    page.goto(f"{view}/runs/{RUN}/")
    page.click("#pairs-link")
    page.fill("#rater-form input[name=rater]", "Ada")
    page.click("#rater-form button")
    assert page.locator("#progress").inner_text() == f"0 of {IDEAS} compared"
    pairs = page.locator("section.pair")
    assert pairs.count() == IDEAS == len(texts)
    shown = [pairs.nth(i).locator(".side .story").all_inner_texts() for i in range(IDEAS)]
    assert all(len(two) == 2 for two in shown)
    ids = page.locator("section.pair input[name=example]").evaluate_all("inputs => inputs.map(i => i.value)")
    assert ids == list(texts)  # every test idea, in the test split's order
    for example_id, (a, b) in zip(ids, shown):
        assert {a, b} == set(texts[example_id].values())
        assert page.locator(f"#pair-{ids.index(example_id) + 1} .idea").inner_text().count("\n") >= 3  # the idea's inputs
    tuned_first = [a == texts[example_id]["tuned"] for example_id, (a, _) in zip(ids, shown)]
    assert sum(tuned_first) == IDEAS // 2  # both orders, half each: the A side is drawn per idea
    source = page.content()  # nothing in the page tells the sides apart but the texts themselves
    assert not re.search(r"base(?!line)|tuned|_test|data-|<!--", source, re.IGNORECASE), re.findall(r".{30}(?:base(?!line)|tuned|_test|data-|<!--).{30}", source, re.I)
    page.reload()
    assert [pairs.nth(i).locator(".side .story").all_inner_texts() for i in range(IDEAS)] == shown  # the same draw on every visit

    # Idea 1: the reader picks the tuned text and rates both; idea 2: "about the same".
    tuned_letter = "A" if tuned_first[0] else "B"
    page.check(f"#pair-1 input[name=choice][value={tuned_letter}]")
    page.check("#pair-1 input[name=rating_a][value='4']")
    page.check("#pair-1 input[name=rating_b][value='2']")
    page.click("#pair-1 button")
    assert page.locator("#progress").inner_text() == f"1 of {IDEAS} compared"
    assert page.locator("#pair-1 .answered").inner_text() == f"Your answer: {tuned_letter} is better"
    page.check("#pair-2 input[name=choice][value=same]")
    page.click("#pair-2 button")
    rows = [json.loads(line) for line in (runs / RUN / "ratings.jsonl").read_text().splitlines()]
    a_role = "tuned" if tuned_first[0] else "base"
    assert rows[0] | {"time": ""} == {"kind": "pair", "time": "", "rater": "Ada", "example": ids[0], "base": "base_test", "tuned": "tuned_test",
                                      "a": a_role, "preferred": "tuned", "ratings": {a_role: 4, {"base": "tuned", "tuned": "base"}[a_role]: 2}}
    assert (rows[1]["example"], rows[1]["preferred"]) == (ids[1], "same")
    again = page.request.post(f"{view}/runs/{RUN}/pairs", form={"rater": "Ada", "example": ids[0], "choice": "B"})
    assert again.status == 400 and "already" in again.text()
    assert len((runs / RUN / "ratings.jsonl").read_text().splitlines()) == 2
    assert page.goto(f"{view}/runs/{RUN}/files/pairs.key").status == 404  # the secret behind the draw stays on the server

    page.goto(f"{view}/runs/{RUN}/")
    summary = " ".join(page.locator("#pair-summary").inner_text().split())
    assert "2 (1) 75% [50, 100] 1 / 0 / 1" in summary  # tuned, then a tie (half): 75% of 2 answers, with its interval
    assert "Blind ratings" not in page.locator("#report").inner_text()  # shown once: the live table
    report = (runs / RUN / "report.md").read_text()
    assert report.count("## Blind ratings: base or tuned") == 1 and "| 2 (1) | 75% [50, 100] | 1 / 0 / 1 |" in report


def test_the_preference_is_a_share_with_a_tie_counting_half_and_each_side_rated_apart():
    def answer(rater: str, preferred: str, ratings: dict) -> dict:
        return {"kind": "pair", "rater": rater, "example": "x", "base": "base_test", "tuned": "tuned_test", "a": "base",
                "preferred": preferred, "ratings": ratings}

    origin = {"origin": "model: m", "rater": "r", "coherence": 3, "fluency": 3, "fit": 3, "liking": 3, "guess": "model"}
    found = summarize_pairs([origin, answer("r1", "tuned", {"tuned": 5}), answer("r2", "tuned", {}), answer("r2", "base", {"base": 4, "tuned": 3}),
                             answer("r3", "same", {})])
    assert (found.answers, found.raters, found.counts) == (4, 3, {"base": 1, "tuned": 2, "same": 1})
    assert found.tuned_preferred.value == 0.625 and 0 <= found.tuned_preferred.low < 0.625 < found.tuned_preferred.high <= 1
    assert (found.ratings["tuned"].value, found.ratings["tuned"].n, found.ratings["base"].n) == (4.0, 2, 1)
    assert summarize_pairs([origin]) is None


def test_an_optimize_weights_run_sets_the_prompt_only_text_beside_the_tuned_weights_one(view, runs, page):
    page.goto(f"{view}/runs/{WEIGHTS_RUN}/")
    page.click("#pairs-link")
    page.fill("#rater-form input[name=rater]", "Bo")
    page.click("#rater-form button")
    pairs = page.locator("section.pair")
    assert pairs.count() == IDEAS
    for i in range(IDEAS):
        assert {text.split(". The ")[1].split()[0] for text in pairs.nth(i).locator(".side .story").all_inner_texts()} == {"prompt", "both"}
