"""A capable hosted model as the reflector: its rewrite reaches the student, its other replies do not.

The reflector is the stand-in of tests/reflector_standin.py, speaking the OpenAI chat API as a
hosted model does (a key on every request, GET /v1/models included); the student is the real
SmolLM2-135M and the search real GEPA, on a tiny copy of sentiment.
"""

import json
import re

from cli_runner import logged_calls, small_task
from reflector_standin import KEY_ENV, MODEL, REWRITE

from smolopt.api import Optimizer
from smolopt.jsonl import read_jsonl
from smolopt.tasks import load_task

SCRIPT = ("rewrite", "refusal", "truncated", "prose")
# Reflection gets every third iteration (format, demos and instruction take turns): on 8 train and
# 8 val examples the fourth reflection came after 116 metric calls (71 s into the run).
BUDGET = 120
REASONS = {"refusal": "no ``` block", "prose": "no ``` block", "truncated": "truncated"}


def student_prompts(run_dir) -> list[str]:
    """What the student was sent, call by call: a completion prompt or the chat turns."""
    return [call["request"].get("prompt") or "\n".join(m["content"] for m in call["request"]["messages"])
            for call in logged_calls(run_dir) if call["model"] == "smollm2-135m"]


def test_a_hosted_reflectors_rewrite_is_parsed_guarded_and_evaluated_and_its_other_replies_are_rejected(
        registry_path, reflector_standin, tmp_path, monkeypatch):
    monkeypatch.setenv("SMOLOPT_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv(KEY_ENV, reflector_standin.key)
    reflector_standin.play(*SCRIPT)
    task = load_task(str(small_task("sentiment", tmp_path / "sentiment_small", 8)))
    optimizer = Optimizer(student="smollm2-135m", reflection="standin-reflector", budget=BUDGET, registry=registry_path)
    optimizer.run(task)
    run_dir = optimizer.run_dir
    results = json.loads((run_dir / "results.json").read_text())
    assert results["reflection_note"] == "reflection by standin-reflector"  # reached with its key, not a fallback

    # Each reply played is one journal record, in order, with what the parser made of it.
    assert reflector_standin.played[:len(SCRIPT)] == list(SCRIPT), f"only {reflector_standin.played} within the budget"
    reflections = [row for row in read_jsonl(run_dir / "proposals.jsonl") if row["proposer"] == "reflection"]
    assert len(reflections) == len(reflector_standin.played)
    assert reflector_standin.shown[0] == results["seed_candidate"]["self"]  # the prompt showed the parent's instruction
    first = reflections[0]
    assert first["accepted_by_guard"] and first["text"] == REWRITE  # the fenced instruction, without the prose around it
    for row, name in zip(reflections, reflector_standin.played):
        if name == "rewrite":  # later rewrites may meet a parent that already has it
            assert (row["accepted_by_guard"], row["text"]) == (True, REWRITE) or "repeats" in row["note"], row
        else:
            assert not row["accepted_by_guard"] and REASONS[name] in row["note"], row

    # The rewrite ran on the real student; no rejected reply did.
    prompts = student_prompts(run_dir)
    assert any(REWRITE in prompt for prompt in prompts)
    without_rewrite = [prompt.replace(REWRITE, "") for prompt in prompts]
    for row in reflections[1:len(SCRIPT)]:
        assert not any(row["text"] in prompt for prompt in without_rewrite), row

    # GEPA kept the rewrite or not as its scores say: on the minibatch (strictly better than its
    # parent, or it is dropped), then on val (the val argmax ships, a tie keeps the seed).
    log = (run_dir / "gepa.log").read_text()
    iteration = int(re.search(rf"^Iteration (\d+): Proposed new text for self: {re.escape(REWRITE)}$", log, re.M)[1])
    accepted = {row["iteration"]: row for row in read_jsonl(run_dir / "accepted.jsonl")}
    candidates = results["iterations"]
    if iteration in accepted:
        row = accepted[iteration]
        assert sum(row["minibatch_child"]) > sum(row["minibatch_parent"]), row
        assert candidates[row["candidate"]]["prompt"]["self"] == REWRITE
    else:
        new, old = re.search(rf"^Iteration {iteration}: New subsample score (\S+) is not better than old score (\S+),", log, re.M).groups()
        assert float(new) <= float(old)
    vals = [row["val"] for row in candidates]
    shipped = results["choice"]["shipped"]
    assert vals[shipped] == max(vals) and (shipped == 0 or vals[0] < max(vals))
    assert results["best_candidate"] == candidates[shipped]["prompt"]  # so the rewrite ships only as the val argmax

    # The wire: the hosted API's own fields only (it answers anything else with HTTP 400), never response_format.
    assert reflector_standin.bodies and len(reflector_standin.bodies) == len(reflector_standin.played)
    for body in reflector_standin.bodies:
        assert "response_format" not in body and body["model"] == MODEL, body
        assert "max_tokens" in body and "temperature" in body, body
