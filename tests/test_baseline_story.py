"""Is a language model worth it here? Beside the arms, a label task's reports show what sentence
embeddings and a logistic regression, fitted on the same train+val rows, score on the same test split."""

import json
from pathlib import Path

from smolopt.baseline import Baseline, baseline_section, embedding_baseline, input_text
from smolopt.report import markdown, terminal
from smolopt.runs import Run
from smolopt.tasks import load_task
from smolopt.tune.report import tune_report
from smolopt.tune.result import Tuned
from smolopt.tune.train import Epoch, Trained

TASKS = Path(__file__).resolve().parent.parent / "tasks"


def test_on_sentiment_the_baseline_learns_from_train_and_val_and_scores_test_with_an_interval_the_same_every_time(starts_models):
    """Loads all-MiniLM-L6-v2 and embeds 252 texts twice (about 20 s): the model lane."""
    task = load_task(str(TASKS / "sentiment"))
    notices: list[str] = []
    first, second = embedding_baseline(task, notices), embedding_baseline(task, notices)
    assert notices == [], "the test command installs the similarity extra"
    assert first.trained_on == len(task.split("train")) + len(task.split("val"))
    assert first.n == len(task.split("test")) and list(first.correct) == [str(e.get("id")) for e in task.split("test")]
    assert first.accuracy > 0.6, "three balanced labels: chance is 33%"
    assert first.accuracy == sum(first.correct.values()) / first.n
    assert first.interval[0] < first.accuracy < first.interval[1] and first.interval[1] - first.interval[0] < 0.3
    assert (first.accuracy, first.interval, first.correct) == (second.accuracy, second.interval, second.correct)
    assert json.loads(json.dumps(first.to_json()))["correct"] == first.correct


def test_several_input_fields_are_embedded_as_the_program_sees_them():
    task = load_task(str(TASKS / "commonsense_mc"))
    text = input_text(task, task.split("train")[0])
    assert text.startswith("Question: What sweet food do bees make?\nChoices:\nA) wool\nB) honey")


def test_a_free_text_task_has_no_baseline():
    notices: list[str] = []
    assert embedding_baseline(load_task(str(TASKS / "multihop_qa")), notices) is None
    assert notices == []


def test_without_the_similarity_extra_the_run_goes_on_with_a_notice(monkeypatch):
    from smolopt.metrics import similarity

    monkeypatch.setattr(similarity, "unavailable", lambda: f"sentence_transformers not installed: {similarity.EXTRA}")
    notices: list[str] = []
    assert embedding_baseline(load_task(str(TASKS / "sentiment")), notices) is None
    assert notices == [f"no embeddings baseline (all-MiniLM-L6-v2 embeddings + logistic regression): "
                       f"sentence_transformers not installed: {similarity.EXTRA}"]


def test_the_baseline_is_stated_plainly_in_the_tune_report_and_its_results(tmp_path):
    baseline = Baseline(0.8125, (0.734, 0.885), 96, 156, {"s1": True, "s2": False}, 7.4)
    section = baseline_section(baseline)
    assert section.rows == [["all-MiniLM-L6-v2 embeddings + logistic regression", "156 train+val rows", "81.2% [73.4%, 88.5%]", "7.4"]]
    assert "score 81.2% on the same 96 test examples" in section.note

    epoch = Epoch(1, 0.5, 0.4, 0.9, 3.0)
    tuned = Tuned(Run(tmp_path), Trained([epoch], epoch, {}, 0, settings={"device": "cpu"}), tmp_path / "adapter.gguf", 3.0, 100.0, baseline=baseline)
    report = markdown(tune_report(tuned))
    assert "## the baseline to beat: no language model" in report and "81.2% [73.4%, 88.5%]" in report
    assert any(getattr(line, "title", None) == section.title for line in terminal(tune_report(tuned)))
    assert tuned.to_json()["embeddings_baseline"]["accuracy"] == 0.8125
