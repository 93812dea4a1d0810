"""bench_own_data's pure pieces (no model): reading an optimize run's results.json, the kept-apart
agent traces and the task folder they are scored in."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from smolopt.jsonl import read_jsonl
from smolopt.tasks import load_task

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import bench_own_data as bench  # noqa: E402

LABELS = {"doom_loop", "api_confusion", "verbose_thinking", "making_progress"}


def arm(name: str, accuracy: float, low: float, high: float, adapter: str | None = None) -> dict:
    """One row of results.json `weights.arms`, as smolopt.tune.arms writes it."""
    return {"arm": name, "program": "completion score calibrated, 0 demos", "adapter": adapter, "n": 30, "accuracy": accuracy,
            "interval": [low, high], "change": accuracy - 0.4, "change_interval": [accuracy - 0.6, accuracy - 0.2],
            "prompt_tokens_per_call": 80.0, "calls_per_example": 1.0, "median_latency_s": 0.3, "tune_seconds": 0.0}


def optimize_results(**extra) -> dict:
    """A small results.json of `optimize --weights lora`: the seed summary under `baseline`, four arms, 'both' shipped."""
    return {
        "task": "helpdesk", "complete": True,
        "baseline": {"accuracy": 0.4, "low": 0.23, "high": 0.57, "parse_rate": 1.0, "echo_rate": 0.0},
        "weights": {
            "arms": [arm("seed", 0.4, 0.23, 0.57), arm("prompt", 0.7, 0.53, 0.87),
                     arm("weights", 0.8, 0.63, 0.93, "runs/x/adapter.gguf"), arm("both", 0.9333, 0.83, 1.0, "runs/x/adapter.gguf")],
            "val": {"prompt": 0.6, "weights": 0.8, "both": 0.9}, "shipped": "both", "ship_note": "'both' ships",
            "seconds": {"prompt search": 120.4, "tune": 300.2, "second search": 60.0},
        },
        **extra,
    }


def test_the_shipped_arm_is_read_with_its_interval_and_every_arm_is_a_row():
    name, score = bench.shipped(optimize_results())
    assert name == "both" and score == bench.Score(0.9333, 0.83, 1.0, 30)
    assert score.cell() == "93.3% [83.0%, 100.0%] (n=30)"
    rows = bench.arm_rows(optimize_results())
    assert [row[0] for row in rows] == ["seed", "prompt", "weights", "both (shipped)"]
    assert rows[0][-1] == "not a candidate" and rows[3][-1] == "90.0%" and rows[2][2] == "adapter"
    assert bench.step_seconds(optimize_results()) == "prompt search 120 s, tune 300 s, second search 60 s"


def test_a_run_without_the_weights_block_is_a_miss_that_says_why():
    with pytest.raises(bench.Missing, match="no 'weights' block"):
        bench.shipped({"task": "helpdesk", "complete": True})


def test_the_seed_summary_under_baseline_is_not_taken_for_the_embeddings_baseline():
    assert bench.recorded_baseline(optimize_results()) is None
    found = bench.recorded_baseline(optimize_results(embedding_baseline={"accuracy": 0.8, "interval": [0.65, 0.93], "n": 30}))
    assert found == bench.Score(0.8, 0.65, 0.93, 30)
    replaced = optimize_results()
    replaced["baseline"] = {"accuracy": 0.75, "low": 0.6, "high": 0.9}  # the classifier, should it take the key over
    assert bench.recorded_baseline(replaced) == bench.Score(0.75, 0.6, 0.9, None)


def test_a_baseline_recorded_in_the_run_is_read_without_computing_one(tmp_path):
    results = optimize_results(embedding_baseline={"accuracy": 0.8, "interval": [0.65, 0.93]})
    assert bench.embedding_baseline(results, tmp_path / "no-such-task") == bench.Score(0.8, 0.65, 0.93, None)
    assert bench.baseline_source(results) == "the run's results.json"


def test_a_results_file_of_an_unfinished_run_is_a_miss(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps({**optimize_results(), "complete": False}))
    with pytest.raises(bench.Missing, match="did not finish"):
        bench.results_of(bench.Ran("smolopt optimize helpdesk --weights lora", 1.0, tmp_path))
    with pytest.raises(bench.Missing, match="wrote no program.json"):
        bench.run_file(bench.Ran("smolopt optimize helpdesk --weights lora", 1.0, tmp_path), "program.json")


def test_targets_read_met_or_missed():
    assert bench.score_row("shipped", bench.Score(0.9, 0.8, 1.0), 0.90, "x")[3] == "met"
    assert bench.score_row("shipped", bench.Score(0.8958, 0.8, 1.0), 0.90, "x")[3] == "**missed**"
    assert bench.wall_row("optimize", 901, 900, "x")[3] == "**missed**"
    assert bench.wall_row("optimize", 612, 720, "x", "tune 300 s")[1] == "612 s (10.2 min); tune 300 s"


def test_the_kept_apart_traces_are_twelve_three_per_label_in_notations_the_training_traces_never_use():
    rows = read_jsonl(bench.TRACES)
    assert len(rows) == 12 and Counter(row["label"] for row in rows) == {label: 3 for label in LABELS}
    assert all(row["notes"] and row["notation"] for row in rows)
    assert len({row["notation"] for row in rows}) >= 2
    for row in rows:
        assert "TOOL_CALL:" not in row["trace"] and "TOOL_RESULT:" not in row["trace"] and "AGENT:" not in row["trace"], row["id"]
    training = {row["trace"] for row in read_jsonl(bench.TASKS / "agent_monitor" / "data.jsonl")}
    assert not training & {row["trace"] for row in rows}


def test_the_kept_apart_folder_loads_as_agent_monitor_with_the_traces_as_its_test_split(tmp_path):
    folder = bench.kept_apart_task(tmp_path)
    assert folder.name == "agent_monitor"  # a saved program is refused by a task of another name
    task, original = load_task(str(folder)), load_task(str(bench.TASKS / "agent_monitor"))
    assert Counter(example.label for example in task.split("test")) == {label: 3 for label in LABELS}
    assert {example.id for example in task.split("test")} == {row["id"] for row in read_jsonl(bench.TRACES)}
    for split in ("train", "val"):
        assert [example.id for example in task.split(split)] == [example.id for example in original.split(split)]
    assert task.labels == original.labels


def test_the_kept_apart_score_is_split_by_notation_and_listed_trace_by_trace():
    traces = read_jsonl(bench.TRACES)
    examples = [{"id": row["id"], "gold": row["label"], "predicted": row["label"] if i % 2 == 0 else "doom_loop",
                 "parsed": True, "score": 1.0 if i % 2 == 0 else 0.0} for i, row in enumerate(traces)]
    examples[-1]["parsed"] = False
    overall, by_notation, by_trace = bench.apart_rows({"examples": examples})
    assert overall.value == pytest.approx(0.5) and overall.n == 12
    assert {row[0] for row in by_notation} == {row["notation"] for row in traces}
    assert by_trace[0] == [traces[0]["id"], traces[0]["notation"], traces[0]["label"], traces[0]["label"], "right"]
    assert by_trace[-1][3] == "(unparsed)" and by_trace[-1][4] == "wrong"


def test_a_table_for_own_data_becomes_the_smolopt_new_command():
    helpdesk = bench.TABLES[0]
    assert helpdesk.name == "helpdesk"
    assert bench.shown(helpdesk.new_args()) == "smolopt new helpdesk --from scripts/data/helpdesk.csv --input 'Customer message' --label category"
    assert bench.tables([["/data/mine.tsv", "topic"]]) == (bench.Table(Path("/data/mine.tsv"), "topic", ()),)
