"""Local servers are flaky: a run survives what they do, keeps what finished, and resumes without
repeating a call. Faults come from a proxy in front of the real embedded model."""

import json
import signal

import pytest

from cli_runner import logged_calls, sent_requests, small_task, stop_midway


def runs(tmp_path, name: str) -> list:
    return sorted((tmp_path / "runs").glob(f"*-eval-{name}"), key=lambda p: p.stat().st_mtime)


def results(run_dir) -> dict:
    return json.loads((run_dir / "results.json").read_text())


def same_numbers(a: dict, b: dict) -> bool:
    keys = ("n", "accuracy", "parse_rate", "predicted_distribution")
    return all(a["summary"][k] == b["summary"][k] for k in keys)


def one_line_error(done) -> str:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    return lines[-1]


def test_500s_drops_and_hangs_are_retried_and_change_nothing(smolopt_cli, fault_proxy, tmp_path):
    task = small_task("sentiment", tmp_path / "sentiment_small", 6)
    assert smolopt_cli("eval", str(task), "--model", "flaky").returncode == 0
    clean = results(runs(tmp_path, "sentiment_small")[-1])
    start = len(fault_proxy.bodies)
    faults = {2: "500", 4: "drop", 6: "hang"}
    fault_proxy.faults = lambda n: faults.get(n - start)
    done = smolopt_cli("eval", str(task), "--model", "flaky")
    assert done.returncode == 0, done.stderr
    faulty = results(runs(tmp_path, "sentiment_small")[-1])
    assert same_numbers(clean, faulty)
    assert len(fault_proxy.bodies) - start == 6 + 3  # each fault cost one retry


def test_replies_that_are_not_completions_score_zero_and_the_run_goes_on(smolopt_cli, fault_proxy, tmp_path):
    task = small_task("sentiment", tmp_path / "sentiment_small", 6)
    start = len(fault_proxy.bodies)
    faults = {2: "html", 4: "shape", 6: "truncated"}
    fault_proxy.faults = lambda n: faults.get(n - start)
    done = smolopt_cli("eval", str(task), "--model", "flaky")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    examples = results(runs(tmp_path, "sentiment_small")[-1])["examples"]
    failed = [e for e in examples if "without a completion" in e["feedback"]]
    assert len(examples) == 6 and len(failed) == 3 and all(e["score"] == 0.0 for e in failed)


def test_a_dead_server_ends_the_eval_with_its_work_kept_and_resume_finishes_it(smolopt_cli, fault_proxy, tmp_path):
    task = small_task("sentiment", tmp_path / "sentiment_small", 8)
    assert smolopt_cli("eval", str(task), "--model", "flaky").returncode == 0
    clean = results(runs(tmp_path, "sentiment_small")[-1])
    start = len(fault_proxy.bodies)
    fault_proxy.faults = lambda n: "500" if n - start > 3 else None
    done = smolopt_cli("eval", str(task), "--model", "flaky")
    message = one_line_error(done)
    run_dir = runs(tmp_path, "sentiment_small")[-1]
    assert f"continue with: smolopt eval --resume {run_dir}" in message and "3 of 8 examples finished" in message
    partial = results(run_dir)
    assert partial["complete"] is False and partial["summary"]["n"] == 3

    fault_proxy.faults = lambda n: None
    resumed = smolopt_cli("eval", "--resume", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr
    assert results(run_dir)["complete"] is True and same_numbers(clean, results(run_dir))
    calls = logged_calls(run_dir)
    made = sent_requests(calls)
    assert len(made) == len(set(made)) == 8  # no finished call was made twice
    assert sum(c["cached"] for c in calls) == 3
    assert [c["error"] for c in calls if "error" in c][0].endswith("failed 3 times (HTTP 500: {\"error\": \"injected fault\"})")


@pytest.mark.parametrize("cut", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_an_eval_cut_off_half_way_keeps_its_finished_calls_and_resume_matches_a_clean_run(smolopt_cli, registry_path, tmp_path, cut):
    """Ctrl-C writes the finished examples and the command that continues; kill -9 writes nothing more,
    and the call cache alone carries the resume."""
    task = small_task("sentiment", tmp_path / "sentiment_small", 16)
    assert smolopt_cli("eval", str(task), "--quiet").returncode == 0
    clean = results(runs(tmp_path, "sentiment_small")[-1])
    run_dir, stopped = stop_midway(tmp_path, ("--registry", str(registry_path), "eval", str(task), "--quiet"), 8, cut, within_s=120)  # half of the 16
    if cut == signal.SIGINT:
        assert stopped.returncode == 130 and f"smolopt eval --resume {run_dir}" in stopped.stderr
        assert results(run_dir)["complete"] is False
    else:
        assert stopped.returncode == -signal.SIGKILL and not (run_dir / "results.json").exists()

    resumed = smolopt_cli("eval", "--resume", str(run_dir), "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert same_numbers(clean, results(run_dir))
    made = sent_requests(logged_calls(run_dir))
    assert len(made) == len(set(made))


def test_a_1mb_input_is_scored_as_a_failed_example_and_its_request_is_logged(smolopt_cli, tmp_path):
    """Far past the context window: the server refuses it, the example scores 0, the call log says why."""
    task = small_task("sentiment", tmp_path / "sentiment_huge", 2)
    rows = [json.loads(line) for line in (task / "data.jsonl").read_text().splitlines()]
    huge = next(row for row in rows if row["split"] == "test")
    huge["text"] = "The service was slow but the food was fine. " * 24_000  # about 1 MB
    (task / "data.jsonl").write_text("\n".join(json.dumps(row) for row in rows))

    done = smolopt_cli("eval", str(task), "--quiet")
    assert done.returncode == 0, done.stderr
    run_dir = runs(tmp_path, "sentiment_huge")[-1]
    scored = {example["id"]: example for example in results(run_dir)["examples"]}
    assert scored[huge["id"]]["score"] == 0.0 and len(scored) == 2
    logged = logged_calls(run_dir)
    failed = [call for call in logged if "error" in call]
    assert failed and all(huge["text"][:100] in json.dumps(call["request"]) for call in failed)
