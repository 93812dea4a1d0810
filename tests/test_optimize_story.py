"""The main job: `smolopt optimize` on the embedded model, offline, with guarded proposals and resume."""

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

from cli_runner import cli_command, cli_env, small_task

from smolopt.api import Optimizer
from smolopt.runs import Run
from smolopt.tasks import load_task

ROOT = Path(__file__).resolve().parent.parent


def test_a_tiny_reflection_model_is_guarded_and_never_sends_response_format(registry_path, proxy, tmp_path, monkeypatch):
    """The embedded 135M as its own reflector: its proposals are garbage, and are rejected, not evaluated."""
    monkeypatch.setenv("SMOLOPT_RUNS", str(tmp_path / "runs"))
    task = load_task(str(small_task("sentiment", tmp_path / "sentiment_small", 12)))
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
        for call in map(json.loads, (run.path / "calls.jsonl").read_text().splitlines())
        if call["model"] == "smollm2-135m"
    ]
    for record in rejected:  # no evaluated candidate ever carried a rejected text
        if len(record.text) > 40:
            assert not any(record.text in prompt for prompt in student_prompts)
    assert result.optimized_test.n == 12 and result.baseline_test.n == 12
    assert (run.path / "program.json").exists()


def test_optimize_prints_tables_and_the_saved_program_evaluates(smolopt_cli, tmp_path):
    task = small_task("sentiment", tmp_path / "sentiment_small", 12)
    done = smolopt_cli("optimize", str(task), "--budget", "40", "--reflection", "none")
    assert done.returncode == 0, done.stderr
    assert "few-shot injection only" in done.stdout
    for header in ("accepted candidates", "Baseline", "After", "Change", "baseline", "chosen"):
        assert header in done.stdout
    run_dir = next((tmp_path / "runs").glob("*-optimize-sentiment_small"))
    report = (run_dir / "report.md").read_text()
    assert "| Task | Model | Baseline | After | Change |" in report
    again = smolopt_cli("eval", str(task), "--program", str(run_dir / "program.json"))
    assert again.returncode == 0, again.stderr
    assert "accuracy" in again.stdout


def test_killed_optimization_resumes_without_repeating_finished_calls(smolopt_cli, registry_path, tmp_path):
    env_runs = tmp_path / "runs"
    task = small_task("sentiment", tmp_path / "sentiment_small", 24)
    cmd = cli_command("--registry", str(registry_path), "optimize", str(task), "--budget", "80", "--reflection", "none", "--quiet")
    process = subprocess.Popen(cmd, env=cli_env(tmp_path), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    calls_file = None
    while time.time() < deadline:
        found = list(env_runs.glob("*-optimize-sentiment_small/calls.jsonl"))
        if found and sum(1 for _ in found[0].open()) >= 60:
            calls_file = found[0]
            break
        time.sleep(0.5)
    assert calls_file is not None, "the optimization never got going"
    process.send_signal(signal.SIGKILL)
    process.wait()
    first = [json.loads(line) for line in calls_file.read_text().splitlines() if line.strip()]
    assert not (calls_file.parent / "results.json").exists()  # it really was cut off

    done = smolopt_cli("optimize", "--resume", str(calls_file.parent), "--quiet")
    assert done.returncode == 0, done.stderr
    every = [json.loads(line) for line in calls_file.read_text().splitlines() if line.strip()]
    resumed = every[len(first):]
    made = [json.dumps(c["request"], sort_keys=True) for c in every if not c["cached"]]
    assert len(made) == len(set(made)), "a finished call was made twice"
    assert any(c["cached"] for c in resumed), "the resumed run served nothing from the cache"
    assert (calls_file.parent / "results.json").exists()


def test_both_predictors_of_a_two_step_program_are_optimized_and_reported(smolopt_cli, tmp_path):
    """multihop_qa cut to three examples a split (a user's own task folder), to keep the model calls few."""
    small = tmp_path / "multihop_small"
    small.mkdir()
    shutil.copy(ROOT / "tasks" / "multihop_qa" / "task.py", small / "task.py")
    rows = [json.loads(line) for line in (ROOT / "tasks" / "multihop_qa" / "data.jsonl").read_text().splitlines()]
    kept = [row for split in ("train", "val", "test") for row in [r for r in rows if r["split"] == split][:3]]
    (small / "data.jsonl").write_text("\n".join(json.dumps(row) for row in kept))
    done = smolopt_cli("optimize", str(small), "--budget", "15", "--reflection", "none")
    assert done.returncode == 0, done.stderr
    assert "prompt: reason" in done.stdout and "prompt: verify" in done.stdout
    run_dir = next((tmp_path / "runs").glob("*-optimize-multihop_small"))
    proposals = [json.loads(line) for line in (run_dir / "proposals.jsonl").read_text().splitlines()]
    assert {p["component"].split(".")[0] for p in proposals} == {"reason", "verify"}  # round robin over both modules
