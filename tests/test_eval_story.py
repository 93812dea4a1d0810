"""A newcomer evaluates the embedded SmolLM2-135M on a real task, offline, with no server of their own."""

import json
from pathlib import Path

import dspy
import pytest

from cli_runner import logged_calls

from smolopt.adapters import RawTextAdapter
from smolopt.adapters.outcomes import answer_outcome, collect_outcomes
from smolopt.backends import Models
from smolopt.evaluation import evaluate
from smolopt.tasks import load_task

ROOT = Path(__file__).resolve().parent.parent


def test_eval_sentiment_prints_table_shows_the_label_bias_and_writes_run(smolopt_cli, proxy, tmp_path):
    sent_before = len(proxy.bodies)
    done = smolopt_cli("eval", "sentiment", "--split", "test")
    assert done.returncode == 0, done.stderr
    for row in ("accuracy", "parse rate", "echo rate", "labels predicted", "prompt tokens / call", "median latency"):
        assert row in done.stdout
    run_dir = next((tmp_path / "runs").glob("*-eval-sentiment"))
    results = json.loads((run_dir / "results.json").read_text())
    summary = results["summary"]
    assert summary["n"] == 96
    assert summary["calls_per_example"] == 1.0  # one LM call per example, no retry-on-parse-failure
    assert summary["parse_rate"] >= 0.9
    assert sum(summary["predicted_distribution"].values()) == 96
    report = (run_dir / "report.md").read_text()  # every command writes report.md: the table the terminal shows
    assert report.startswith("# smolopt eval: sentiment on smollm2-135m") and f"| accuracy | {100 * summary['accuracy']:.1f}% |" in report
    calls = logged_calls(run_dir)
    assert len(calls) == 96 == len(proxy.bodies) - sent_before
    assert all(c["request"]["max_tokens"] <= 12 and c["prompt_tokens"] > 0 for c in calls)
    assert json.loads((run_dir / "config.json").read_text())["model"]["entry"] == "smollm2-135m"
    labels = next(line for line in done.stdout.splitlines() if "labels predicted" in line)
    assert "positive" in labels and "(gold 32)" in labels  # the positivity bias is visible


@pytest.mark.parametrize("task_name", ["agent_monitor", "multihop_qa", "commonsense_mc"])
def test_every_task_evaluates_on_the_embedded_model(task_name, registry, proxy):
    task = load_task(str(ROOT / "tasks" / task_name))
    with Models(registry) as models:
        result = evaluate(task, task.program(), task.split("test")[:3], models.lm("smollm2-135m"), split="test")
    assert result.n == 3
    assert all(0.0 <= e.score <= 1.0 and e.calls >= 1 and e.raw for e in result.examples)
    assert all(e.feedback for e in result.examples)


def test_raw_text_adapter_runs_predict_chain_of_thought_and_multi_predictor_programs(registry, proxy):
    class Pipeline(dspy.Module):
        def __init__(self):
            super().__init__()
            self.first = dspy.Predict("question -> answer", max_tokens=16)
            self.second = dspy.ChainOfThought("question, draft -> answer", max_tokens=32)

        def forward(self, question):
            draft = self.first(question=question).answer
            return self.second(question=question, draft=draft or "")

    with Models(registry) as models, collect_outcomes() as outcomes, dspy.context(lm=models.lm("smollm2-135m"), adapter=RawTextAdapter()):
        prediction = Pipeline()(question="What is the capital of France?")
    assert "reasoning" in prediction and "answer" in prediction
    assert prediction.smolopt_raw  # the raw text always travels with the prediction
    assert len(outcomes) == 2 and outcomes[-1].raw == prediction.smolopt_raw  # one Outcome per predictor call
    assert prediction.answer or answer_outcome(outcomes, "answer").parse_error


def test_a_prompt_longer_than_the_context_scores_zero_instead_of_ending_the_run(registry, proxy):
    task = load_task(str(ROOT / "tasks" / "sentiment"))
    program = task.program()
    program.signature = program.signature.with_instructions("Classify the sentiment of the text. " * 400)
    with Models(registry) as models:
        result = evaluate(task, program, task.split("test")[:1], models.lm("smollm2-135m"), split="test")
    [example] = result.examples
    assert example.score == 0.0 and not example.parsed
    assert "does not fit the model's context" in example.feedback
