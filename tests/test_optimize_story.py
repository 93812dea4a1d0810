"""The main job: `smolopt optimize` on the embedded model, offline, with guarded proposals and resume."""

import json
import shutil
import signal
from pathlib import Path

from cli_runner import logged_calls, sent_requests, small_task, stop_midway

from smolopt.api import Optimizer
from smolopt.runs import Run
from smolopt.tasks import load_task

ROOT = Path(__file__).resolve().parent.parent


def test_a_tiny_reflection_model_is_guarded_and_never_sends_response_format(registry_path, proxy, tmp_path, monkeypatch):
    """The embedded 135M as its own reflector: its proposals are garbage, and are rejected, not evaluated."""
    monkeypatch.setenv("SMOLOPT_RUNS", str(tmp_path / "runs"))
    task = load_task(str(small_task("sentiment", tmp_path / "sentiment_small", 12)))  # 8 and a budget of 60: no garbage came
    optimizer = Optimizer(student="smollm2-135m", reflection="tiny-reflector", budget=120, registry=registry_path)
    _, result = optimizer.run(task)
    run = Run(optimizer.run_dir)
    reflections = [r for r in result.journal.records if r.proposer == "reflection"]
    assert reflections, "the reflection model was never asked"
    rejected = [r for r in reflections if not r.accepted_by_guard]
    assert rejected, "a 135M reflector should produce at least one garbage proposal"
    assert all(record.note for record in rejected)  # says why: empty, truncated, copies its prompt, unchanged
    student_prompts = [
        call["request"].get("prompt") or call["request"]["messages"][0]["content"]  # completion or chat
        for call in logged_calls(run.path)
        if call["model"] == "smollm2-135m"
    ]
    for record in rejected:  # no evaluated candidate ever carried a rejected text
        if len(record.text) > 40:
            assert not any(record.text in prompt for prompt in student_prompts)
    assert result.optimized_test.n == 12 and result.baseline_test.n == 12
    assert (run.path / "program.json").exists()


def test_optimize_prints_tables_and_the_saved_program_evaluates(smolopt_cli, tmp_path):
    task = small_task("sentiment", tmp_path / "sentiment_small", 8)
    done = smolopt_cli("optimize", str(task), "--budget", "24", "--reflection", "none")
    assert done.returncode == 0, done.stderr
    assert "few-shot injection only" in done.stdout
    for header in ("Accepted candidates", "Baseline", "After", "Change", "baseline", "chosen"):
        assert header in done.stdout
    run_dir = next((tmp_path / "runs").glob("*-optimize-sentiment_small"))
    report = (run_dir / "report.md").read_text()
    assert "| Task | Model | Baseline | After | Change |" in report
    summary = json.loads((run_dir / "results.json").read_text())["summary"]  # a prompt search ships its chosen prompt
    assert summary["shipped"] == "prompt" and summary["evaluation"] == "optimized_test" and summary["accuracy"] == summary["prompt_only"]
    assert report.split("## ")[1].startswith("What ships, on the test split")
    assert report.split("## ")[2].startswith("the baseline to beat: no language model")  # embeddings + logistic regression, same test split
    again = smolopt_cli("eval", str(task), "--program", str(run_dir / "program.json"))
    assert again.returncode == 0, again.stderr
    assert "accuracy" in again.stdout and f"{100 * summary['accuracy']:.1f}%" in again.stdout  # the shipped program scores what the run said


NOT_NUMBERS = {"lm_calls", "cached_calls", "wall_s", "latency_s", "median_latency_s", "seconds"}  # how the work was done, not what it found


def without_timings(value):
    if isinstance(value, dict):
        return {key: without_timings(item) for key, item in value.items() if key not in NOT_NUMBERS}
    if isinstance(value, list):
        return [without_timings(item) for item in value]
    return value


def optimize_numbers(run_dir: Path) -> dict:
    return without_timings(json.loads((run_dir / "results.json").read_text()))


def test_an_optimization_killed_half_way_and_resumed_ends_with_the_clean_runs_numbers(smolopt_cli, registry_path, tmp_path):
    task = small_task("sentiment", tmp_path / "sentiment_small", 10)
    args = ("optimize", str(task), "--budget", "32", "--reflection", "none", "--quiet")
    assert smolopt_cli(*args).returncode == 0
    clean_dir = next((tmp_path / "runs").glob("*-optimize-sentiment_small"))
    clean = optimize_numbers(clean_dir)
    half = sum(1 for _ in (clean_dir / "calls.jsonl").open()) // 2

    for how in (signal.SIGINT, signal.SIGKILL):
        run_dir, stopped = stop_midway(tmp_path, ("--registry", str(registry_path), *args), half, how)
        assert not (run_dir / "results.json").exists(), f"it finished before {how.name} cut it off"
        if how == signal.SIGINT:  # Ctrl-C: one line naming what was kept and the command that continues
            assert stopped.returncode == 130 and "Traceback" not in stopped.stderr, stopped.stderr
            assert f"smolopt optimize --resume {run_dir}" in stopped.stderr.strip().splitlines()[-1]
        first = (run_dir / "calls.jsonl").read_text().splitlines()

        done = smolopt_cli("optimize", "--resume", str(run_dir), "--quiet")
        assert done.returncode == 0, done.stderr
        assert optimize_numbers(run_dir) == clean, f"resumed after {how.name}: not the clean run's numbers"
        every = logged_calls(run_dir)
        made = sent_requests(every)
        assert len(made) == len(set(made)), f"resumed after {how.name}: a finished call was made twice"
        assert sum(c["cached"] for c in every[len(first):]) >= len(first) - 1, "the replay did not come from the cache"


def test_both_predictors_of_a_two_step_program_are_optimized_and_reported(smolopt_cli, tmp_path):
    """multihop_qa cut to three examples a split and to the two paragraphs each answer needs (a user's
    own task folder), to keep the model calls few and short (a four-paragraph prompt took 4.5 s to read)."""
    small = tmp_path / "multihop_small"
    small.mkdir()
    shutil.copy(ROOT / "tasks" / "multihop_qa" / "task.py", small / "task.py")
    rows = [json.loads(line) for line in (ROOT / "tasks" / "multihop_qa" / "data.jsonl").read_text().splitlines()]
    kept = [row for split in ("train", "val", "test") for row in [r for r in rows if r["split"] == split][:3]]
    for row in kept:
        row["context"] = [paragraph for paragraph in row["context"] if paragraph["title"] in row["supporting_titles"]]
    (small / "data.jsonl").write_text("\n".join(json.dumps(row) for row in kept))
    done = smolopt_cli("optimize", str(small), "--budget", "15", "--reflection", "none")
    assert done.returncode == 0, done.stderr
    assert "Prompt: reason" in done.stdout and "Prompt: verify" in done.stdout
    run_dir = next((tmp_path / "runs").glob("*-optimize-multihop_small"))
    proposals = [json.loads(line) for line in (run_dir / "proposals.jsonl").read_text().splitlines()]
    assert {p["component"].split(".")[0] for p in proposals} == {"reason", "verify"}  # round robin over both modules
