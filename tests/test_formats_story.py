"""A user asks the 135M the way it listens (plain-text completion, scored labels, calibration),
and a server without logprobs still gets answers: all checked on the wire, on the real model."""

import json

from cli_runner import small_task


def _summary(tmp_path, task_name: str) -> dict:
    run_dir = sorted((tmp_path / "runs").glob(f"*-eval-{task_name}"))[-1]
    return json.loads((run_dir / "results.json").read_text())


def test_scored_completion_requests_carry_logprobs_and_one_token(smolopt_cli, proxy, tmp_path):
    task = small_task("sentiment", tmp_path / "sentiment_small", 12)
    start = len(proxy.bodies)
    done = smolopt_cli("eval", str(task), "--format", "completion score calibrated")
    assert done.returncode == 0, done.stderr
    bodies = proxy.bodies[start:]
    assert bodies and all("prompt" in body and "messages" not in body for body in bodies)  # no chat template
    for body in bodies:
        assert body["max_tokens"] == 1 and body["temperature"] == 0.0 and body["logprobs"] == 20
        assert (body.get("response_format") or {}).get("type") != "json_object"
    assert all(body["prompt"].startswith("Classify the sentiment of the text.\n\nText: ") for body in bodies)
    results = _summary(tmp_path, "sentiment_small")
    assert results["summary"]["parse_rate"] == 1.0  # scored labels parse by construction
    assert results["summary"]["uncalibrated_distribution"] is not None
    assert "labels before calibration" in done.stdout
    # calibration is measured once per prompt, not once per example: each calibration input's
    # prompt (the task's first training texts) went out once
    train_text = next(json.loads(line)["text"] for line in (task / "data.jsonl").read_text().splitlines()
                      if json.loads(line)["split"] == "train")
    asked = [b for b in bodies if b["prompt"].endswith(f"Text: {train_text}\nSentiment:")]
    assert len(asked) == 1


def test_generated_completion_stops_at_the_next_block(smolopt_cli, proxy, tmp_path):
    task = small_task("sentiment", tmp_path / "sentiment_small", 4)
    start = len(proxy.bodies)
    done = smolopt_cli("eval", str(task), "--format", "completion generate")
    assert done.returncode == 0, done.stderr
    for body in proxy.bodies[start:]:
        assert body["prompt"].endswith("\nSentiment:") and "logprobs" not in body
        assert body["stop"] == ["\n\n", "\nText:"] and body["max_tokens"] == 12


def test_a_server_without_logprobs_falls_back_to_generation_and_says_so_once(smolopt_cli, no_logprobs_proxy, tmp_path):
    task = small_task("sentiment", tmp_path / "sentiment_small", 6)
    start = len(no_logprobs_proxy.bodies)
    done = smolopt_cli("eval", str(task), "--model", "no-logprobs", "--format", "completion score")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("no token logprobs") == 1  # said once per run, not per example
    bodies = no_logprobs_proxy.bodies[start:]
    assert "logprobs" in bodies[0]  # asked once ...
    assert all("logprobs" not in body and body["max_tokens"] > 1 for body in bodies[1:])  # ... then generated
    assert len(bodies) == 7  # the failed scoring call, then one generation per example
    results = _summary(tmp_path, "sentiment_small")
    assert results["summary"]["n"] == 6 and results["notices"]


def test_models_checks_what_a_reachable_server_offers(smolopt_cli):
    done = smolopt_cli("models")
    assert done.returncode == 0, done.stderr
    cells = " ".join(done.stdout.replace("│", " ").split())  # table cells wrap over lines
    assert cells.count("(checked: logprobs: declared, not found)") == 1  # the server that strips them
    assert cells.count("(checked, as declared)") == 3  # tiny-reflector and flaky in front of the plain server; lmstudio-live (no logprobs, as LM Studio)
