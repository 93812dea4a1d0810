"""bench_own_data's pure pieces (no model): reading an optimize run's results.json, the kept-apart
agent traces and the task folder they are scored in."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from smolopt.baseline import METHOD
from smolopt.jsonl import read_jsonl
from smolopt.program_io import load_program, save_program
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
    """A small results.json of `optimize --weights lora`: four arms, 'both' shipped."""
    return {
        "task": "helpdesk", "complete": True,
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


def test_the_embeddings_baseline_is_read_from_the_run_and_an_older_runs_seed_summary_is_not_taken_for_it(tmp_path):
    older = optimize_results(baseline={"accuracy": 0.4, "low": 0.23, "high": 0.57, "parse_rate": 1.0, "echo_rate": 0.0})  # the seed's summary
    assert bench.recorded_baseline(older) is None
    results = optimize_results(embeddings_baseline={"method": METHOD, "accuracy": 0.8, "interval": [0.65, 0.93], "n": 30, "trained_on": 45})
    # recorded: read as it is, nothing computed (the task folder does not even exist)
    assert bench.embedding_baseline(results, tmp_path / "no-such-task") == bench.Score(0.8, 0.65, 0.93, 30)
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
    saved = save_program(original.program(), tmp_path / "program.json", "agent_monitor")  # as optimize saves the shipped program
    assert load_program(task, saved) is not None


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


def test_a_run_without_a_baseline_on_a_free_text_task_reads_not_measured_and_says_why():
    said = bench.embedding_baseline(optimize_results(), bench.TASKS / "multihop_qa")
    assert said == "not measured (not a label task)"


def test_a_failed_command_is_written_as_a_miss_in_its_own_section_and_the_others_are_kept(tmp_path, monkeypatch):
    import benchmd

    benchmarks = tmp_path / "BENCHMARKS.md"
    benchmarks.write_text("# Benchmarks\n\n<!-- bench_own_data_agent -->\nagent numbers\n<!-- /bench_own_data_agent -->\n")
    monkeypatch.setattr(benchmd, "BENCHMARKS", benchmarks)
    monkeypatch.setattr(bench.tempfile, "tempdir", str(tmp_path))
    missing = bench.Table(tmp_path / "nowhere.csv", "category", ("Customer message",))
    assert bench.own_data(missing) is False
    text = benchmarks.read_text()
    assert "agent numbers" in text
    section = text.split("<!-- bench_own_data_nowhere -->")[1].split("<!-- /bench_own_data_nowhere -->")[0]
    assert "**Not measured, a miss against every target of this part:** `smolopt new nowhere --from" in section
    assert "nowhere.csv: not found" in section and "(exit 2)" in section


def test_exactly_ten_points_above_the_baseline_meets_the_target():
    assert bench.at_least(0.9 - 0.8, bench.OWN_MARGIN) and not bench.at_least(0.9 - 0.81, bench.OWN_MARGIN)
