"""Creative writing: a story task scored by parts (length, a judge, closeness to a teacher's story),
optimized offline on the embedded 135M, refined with feedback, taught by any registry model, and a
long story in chapters with its structure score."""

import json
import threading
from pathlib import Path

import pytest
from cli_runner import logged_calls, small_task

from smolopt.metrics import similarity
from smolopt.metrics.parts import Part, combine
from smolopt.metrics.word_range import parse_range, word_range_part

JUDGE_PARTS = ("genre fit", "speakers", "constraints", "liking")


def only_run(tmp_path: Path, command: str, task: str) -> Path:
    (found,) = (tmp_path / "runs").glob(f"*-{command}-{task}")
    return found


def results(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())


# ---- the parts, pure -----------------------------------------------------------------------------


def test_word_range_says_how_far_off_and_which_way():
    assert word_range_part("word " * 200, "150-300").score == 1.0
    short = word_range_part("word " * 75, "150-300")
    assert short.score == pytest.approx(0.5) and "75 too few" in short.feedback
    long = word_range_part("word " * 330, "150-300")
    assert long.score == pytest.approx(0.9) and "30 too many" in long.feedback
    assert word_range_part("", "150-300").score == 0.0
    with pytest.raises(ValueError, match="'300-150'"):
        parse_range("300-150")


def test_the_composite_names_each_failing_part_and_shares_a_missing_parts_weight():
    weights = {"word range": 0.5, "similarity": 0.25, "liking": 0.25}
    parts = [Part("word range", 1.0, "fine"), Part("similarity", 0.4, "drifts from the reference")]
    verdict = combine(parts, weights, dropped={"judge": "judge x is not reachable"})
    assert verdict.score == pytest.approx((0.5 * 1.0 + 0.25 * 0.4) / 0.75)  # liking's weight is shared, not scored 0
    assert "similarity (0.40): drifts from the reference" in verdict.feedback and "word range" not in verdict.feedback.split("Not measured")[0]
    assert "Not measured: judge (judge x is not reachable)" in verdict.feedback
    assert verdict.components == {"word range": 1.0, "similarity": 0.4}


def test_similarity_loads_its_model_once_and_answers_the_same_on_every_thread():
    assert similarity.unavailable() is None, "the test command installs the similarity extra"
    related = similarity.cosine("The cat slept on the warm mat.", "A cat was sleeping on a rug.")
    unrelated = similarity.cosine("The cat slept on the warm mat.", "Quarterly earnings fell by four percent.")
    assert related > unrelated + 0.3
    found: list[float] = []
    threads = [threading.Thread(target=lambda: found.append(similarity.cosine("a red door", "a crimson door"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 4 and max(found) - min(found) < 1e-5
    assert similarity._model.cache_info().misses == 1  # one load for the whole process


# ---- the story task on the real model ------------------------------------------------------------


def test_without_a_reachable_judge_the_story_metric_says_so_and_scores_what_it_can(smolopt_cli, tmp_path):
    task = small_task("story", tmp_path / "story", 2)
    done = smolopt_cli("eval", str(task), "--judge", "lmstudio-down", "--quiet")
    assert done.returncode == 0, done.stderr
    assert "judge lmstudio-down is not available" in done.stdout and "leaves out the judge's parts" in done.stdout
    found = results(only_run(tmp_path, "eval", "story"))
    assert any("judge lmstudio-down is not available" in notice for notice in found["notices"])
    for example in found["examples"]:
        if example["parsed"]:
            assert set(example["components"]) == {"word range", "similarity"}
            assert "Not measured: judge (judge lmstudio-down is not available" in example["feedback"]
    assert "part: word range" in done.stdout and "part: similarity" in done.stdout
    assert "mean score" in done.stdout and "accuracy" not in done.stdout  # a story's mean is no accuracy
    assert (only_run(tmp_path, "eval", "story") / "outputs.md").read_text().count("## st") == 2


def test_a_small_judge_is_asked_at_temperature_0_and_each_part_is_scored_or_said_to_be_missing(smolopt_cli, tmp_path):
    task = small_task("story", tmp_path / "story", 2)
    done = smolopt_cli("eval", str(task), "--judge", "tiny-reflector", "--quiet")
    assert done.returncode == 0, done.stderr
    run_dir = only_run(tmp_path, "eval", "story")
    calls = logged_calls(run_dir)
    judged = [c for c in calls if c["model"] == "tiny-reflector"]
    assert judged and all(c["request"]["temperature"] == 0.0 for c in judged)
    assert all("Genre fit" in json.dumps(c["request"]) for c in judged)
    for example in results(run_dir)["examples"]:
        if not example["parsed"]:
            continue
        for part in JUDGE_PARTS:  # never a silent zero: measured, or named as not measured
            assert part in example["components"] or f"{part} (the judge tiny-reflector gave no readable answer)" in example["feedback"]


def test_refine_retries_with_the_metrics_feedback_and_counts_what_it_costs(smolopt_cli, tmp_path):
    task = small_task("story", tmp_path / "story", 2)
    done = smolopt_cli("eval", str(task), "--judge", "none", "--refine", "2", "--quiet")
    assert done.returncode == 0, done.stderr
    run_dir = only_run(tmp_path, "eval", "story")
    summary = results(run_dir)["summary"]
    assert summary["attempts_per_example"] == 2 and summary["calls_per_example"] == 2  # 64-token stories never score 1
    prompts = [json.dumps(call["request"]) for call in logged_calls(run_dir)]
    retries = [p for p in prompts if "An earlier attempt fell short" in p]
    assert len(retries) == 2 and all("word range" in p for p in retries)  # the feedback itself is in the retry
    assert "generations / example" in done.stdout


def test_optimize_story_runs_offline_and_reports_each_part_before_and_after(smolopt_cli, tmp_path):
    task = small_task("story", tmp_path / "story", 3)
    done = smolopt_cli("optimize", str(task), "--budget", "12", "--reflection", "none", "--judge", "none")
    assert done.returncode == 0, done.stderr
    assert "Parts of the score (test means)" in done.stdout
    report = (only_run(tmp_path, "optimize", "story") / "report.md").read_text()
    assert "## Parts of the score (test means)" in report
    assert "| word range |" in report and "| similarity |" in report
    assert "no judge model was given" in report


def test_teach_writes_each_reference_once_and_a_second_run_keeps_them(smolopt_cli, tmp_path):
    task = small_task("story", tmp_path / "story", 1)
    done = smolopt_cli("teach", str(task), "--model", "tiny-reflector", "--quiet")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in (task / "references.jsonl").read_text().splitlines()]
    ids = {json.loads(line)["id"] for line in (task / "data.jsonl").read_text().splitlines()}
    written = {row["id"] for row in rows if row["teacher"] == "tiny-reflector"}
    assert written == ids  # every idea of the task, each once
    again = smolopt_cli("teach", str(task), "--model", "tiny-reflector", "--quiet")
    assert again.returncode == 0 and f"0 references written by tiny-reflector, {len(written)} kept" in again.stdout


def test_a_long_story_comes_in_chapters_with_its_structure_score(smolopt_cli, tmp_path):
    task = small_task("long_story", tmp_path / "long_story", 1)
    done = smolopt_cli("eval", str(task), "--quiet")
    assert done.returncode == 0, done.stderr
    run_dir = only_run(tmp_path, "eval", "long_story")
    (example,) = results(run_dir)["examples"]
    assert example["predicted"].count("Chapter ") >= 3
    assert "chapter length" in example["components"]
    assert "structure" in example["components"] or "Not measured: structure" in example["feedback"]
    assert "Chapter 2" in (run_dir / "outputs.md").read_text()
