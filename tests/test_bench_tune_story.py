"""bench_tune's story row, without a model: a tune's results.json (built by the code `smolopt tune`
writes it with: smolopt.tune.arms over EvalResults whose metric is smolopt.metrics.parts.combine)
turned into each part base vs tuned with intervals and paired changes, the parts left out named
with why, tokens and seconds per story; and `--limit`'s copy of a task with a shorter test split."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from smolopt.evaluation import EvalResult
from smolopt.evaluation.core import ExampleResult
from smolopt.metrics.parts import Part, combine
from smolopt.tasks import load_task
from smolopt.tune.arms import Arm, arm_evaluations, arm_rows

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import bench_tune as bench  # noqa: E402
import benchmd  # noqa: E402

STORY_WEIGHTS = {"word range": 0.3, "similarity": 0.2, "genre fit": 0.1, "speakers": 0.1, "constraints": 0.15, "liking": 0.15}
NO_JUDGE = {"judge": "no judge was opened for this run"}


def story(key: str, parts: dict[str, float], dropped: dict[str, str], tokens: tuple[int, int] = (90, 250), seconds: float = 7.0) -> ExampleResult:
    """One scored story, as the evaluation core keeps it (the story task's metric is `combine`)."""
    verdict = combine([Part(name, value, "") for name, value in parts.items()], STORY_WEIGHTS, dropped)
    return ExampleResult(key, None, "Once upon a time", verdict.score, verdict.feedback, True, [], "Once upon a time", 1, tokens[0], tokens[1],
                         seconds, components=dict(verdict.components))


def unread(key: str) -> ExampleResult:
    """A story whose reply could not be read: scored 0 by the core, with no parts."""
    return ExampleResult(key, None, None, 0.0, "Could not read an answer (no story). The model said: ''", False, [], "", 1, 90, 0, 2.0)


def tune_results(base: list[ExampleResult], tuned: list[ExampleResult]) -> dict:
    """The arms and per-example evaluations of a tune's results.json (smolopt.tune.result.Tuned.to_json)."""
    arms = [Arm("base", "seed program: completion generate, 0 demos", None, EvalResult("story", "smollm2-135m", "test", base)),
            Arm("tuned", "seed program: completion generate, 0 demos", "runs/x/adapter.gguf", EvalResult("story", "smollm2-135m", "test", tuned), 300.0)]
    return json.loads(json.dumps({"arms": arm_rows(arms), **arm_evaluations(arms), "best_epoch": 2, "tune_seconds": 300.0, "peak_memory_mb": 2500.0}))


def offline_story_tune() -> dict:
    """Four test ideas, no judge: tuned writes 0.2 closer to the word range and 0.1 closer to the reference."""
    base = [story(f"st0{i}", {"word range": 0.4 + 0.1 * i, "similarity": 0.5}, NO_JUDGE) for i in range(4)]
    tuned = [story(f"st0{i}", {"word range": 0.6 + 0.1 * i, "similarity": 0.6}, NO_JUDGE, tokens=(90, 290), seconds=8.0) for i in range(4)]
    return tune_results(base, tuned)


def by_part(rows: list[list[str]]) -> dict[str, list[str]]:
    return {row[1]: row for row in rows}


def test_each_part_of_an_offline_story_tune_is_base_vs_tuned_with_intervals_and_the_judge_is_named_not_measured():
    rows = by_part(bench.part_rows("story", offline_story_tune()))

    assert list(rows) == ["score (the metric's weighted mean)", "word range", "similarity", "judge"]
    word_range = rows["word range"]
    assert word_range[:3] == ["story", "word range", "4 / 4"]
    assert word_range[3].startswith("0.550 [") and word_range[4].startswith("0.750 [")
    assert word_range[5] == "+0.200 [+0.200, +0.200]"  # the same +0.2 on every idea: a paired interval of zero width
    assert rows["similarity"][3:] == ["0.500 [0.500, 0.500]", "0.600 [0.600, 0.600]", "+0.100 [+0.100, +0.100]"]
    # the score is combine's weighted mean of the two parts measured (0.3 and 0.2 shared out): +0.16 on every idea
    assert rows["score (the metric's weighted mean)"][5] == "+0.160 [+0.160, +0.160]"
    assert rows["judge"][2:] == ["0 / 0", "not measured: no judge was opened for this run", "not measured: no judge was opened for this run", "-"]


def test_a_judged_tune_shows_the_judges_parts_and_a_story_without_a_part_is_left_out_of_its_pair():
    judged = {"genre fit": 1.0, "speakers": 0.5, "constraints": 0.5}
    base = [story("st01", {"word range": 0.5, "similarity": 0.5, **judged, "liking": 0.25}, {}),
            story("st02", {"word range": 0.5, "similarity": 0.5, **judged}, {"liking": "the judge j gave no readable answer"}),
            unread("st03")]
    tuned = [story(key, {"word range": 0.9, "similarity": 0.7, **judged, "liking": 0.75}, {}) for key in ("st01", "st02", "st03")]

    rows = by_part(bench.part_rows("story", tune_results(base, tuned)))

    assert list(rows) == ["score (the metric's weighted mean)", "word range", "similarity", "genre fit", "speakers", "constraints", "liking"]
    assert rows["score (the metric's weighted mean)"][2] == "3 / 3"  # an unread story scores 0: it counts in the score
    assert rows["word range"][2] == "2 / 3" and rows["word range"][5] == "+0.400 [+0.400, +0.400]"  # paired over st01, st02 only
    assert rows["liking"][2:4] == ["1 / 3", "0.250 [0.250, 0.250]"]  # unreadable once: left out, not a 0, and no row saying "not measured"
    assert rows["liking"][5] == "+0.500 [+0.500, +0.500]"
    assert rows["genre fit"][5] == "+0.000 [+0.000, +0.000]"


def test_a_metric_without_parts_gets_no_part_rows():
    label = [ExampleResult(f"s{i}", "positive", "positive", float(i % 2), "", True, [], "positive", 1, 30, 1, 0.2) for i in range(4)]
    assert bench.part_rows("sentiment", tune_results(label, label)) == []


def test_tokens_and_seconds_per_story_for_each_arm():
    rows = bench.cost_rows("story", offline_story_tune())
    assert rows == [["story", "base", "4", "90", "250", "7.00", "28"], ["story", "tuned", "4", "90", "290", "8.00", "32"]]


def test_the_story_section_holds_the_part_and_cost_tables_and_says_how_it_was_bounded(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(benchmd, "BENCHMARKS", tmp_path / "BENCHMARKS.md")
    results = offline_story_tune()
    tables = {"tune": [["story", "…"]], "parts": bench.part_rows("story", results), "cost": bench.cost_rows("story", results), "arms": []}
    bench.write("bench_tune story", tables, ["`smolopt tune story --epochs 3` 600 s"], ["- bounded: `smolopt tune --epochs 3`"])

    text = (tmp_path / "BENCHMARKS.md").read_text()
    section = text[text.index("<!-- bench_tune story -->"):text.index("<!-- /bench_tune story -->")]
    assert "## Weights vs prompts (bench_tune story)" in section and "- bounded: `smolopt tune --epochs 3`" in section
    assert "| story | word range | 4 / 4 |" in section and "| story | judge | 0 / 0 | not measured:" in section
    assert "| story | tuned | 4 | 90 | 290 | 8.00 | 32 |" in section
    assert "--weights lora" not in section  # no optimize table when none ran


def test_limit_copies_the_task_with_its_first_test_ideas_and_every_train_and_val_idea(tmp_path: Path):
    folder, size = bench.first_test_examples("story", 5, tmp_path)
    whole, cut = load_task("story"), load_task(str(folder))

    assert size == len(whole.split("test")) == 18
    assert cut.name == "story" and [e.id for e in cut.split("test")] == [e.id for e in whole.split("test")[:5]]
    assert cut.sizes()["train"] == whole.sizes()["train"] and cut.sizes()["val"] == whole.sizes()["val"]
    assert (folder / "references.jsonl").read_text() == (bench.ROOT / "tasks" / "story" / "references.jsonl").read_text()
