"""A DSPy user brings their own program, examples and metric, and uses smolopt from Python only."""

import json
from typing import Literal

import dspy

import smolopt

ANIMALS = [
    ("dog", "yes"), ("salmon", "no"), ("whale", "yes"), ("sparrow", "no"), ("horse", "yes"), ("lizard", "no"),
    ("cat", "yes"), ("shark", "no"), ("bat", "yes"), ("frog", "no"), ("cow", "yes"), ("eagle", "no"),
    ("goat", "yes"), ("snake", "no"), ("dolphin", "yes"), ("trout", "no"), ("mouse", "yes"), ("penguin", "no"),
]


class Mammal(dspy.Signature):
    """Say whether the animal is a mammal."""

    animal: str = dspy.InputField()
    mammal: Literal["yes", "no"] = dspy.OutputField()


def metric(example, prediction, trace=None, pred_name=None, pred_trace=None):
    right = prediction.mammal == example.mammal
    return dspy.Prediction(score=float(right), feedback="Correct." if right else f"{example.animal}: the answer is {example.mammal}.")


def examples(rows):
    return [dspy.Example(animal=animal, mammal=answer).with_inputs("animal") for animal, answer in rows]


def test_a_users_own_program_is_evaluated_and_optimized_through_the_python_api(registry_path, proxy, tmp_path, monkeypatch):
    monkeypatch.setenv("SMOLOPT_RUNS", str(tmp_path / "runs"))
    train, val, test = examples(ANIMALS[:6]), examples(ANIMALS[6:12]), examples(ANIMALS[12:])
    program = dspy.Predict(Mammal, max_tokens=4)
    start = len(proxy.bodies)

    with smolopt.lm(registry=registry_path) as lm:
        dspy.configure(lm=lm, adapter=smolopt.RawTextAdapter())
        assert program(animal="dog").mammal in ("yes", "no")  # plain DSPy on smolopt's raw path
        before = smolopt.evaluate(program, test, metric)
    assert before.n == 6 and before.parse_rate > 0 and 0.0 <= before.accuracy <= 1.0

    optimizer = smolopt.Optimizer(metric, registry=registry_path, budget=40)
    better = optimizer.compile(program, trainset=train, valset=val, testset=test)
    assert isinstance(better, dspy.Module) and better is not program
    result = optimizer.result
    assert result.baseline_test.n == 6 and result.metric_calls >= 6
    assert set(result.format_val) >= {"chat generate"}  # the seed's own format was scored on val
    assert -1.0 <= result.test_change()["change"] <= 1.0
    saved = json.loads((optimizer.run_dir / "results.json").read_text())
    assert saved["optimized"]["accuracy"] == result.optimized_test.accuracy
    assert (optimizer.run_dir / "report.md").read_text().startswith("# smolopt optimize: program on smollm2-135m")
    assert json.loads((optimizer.run_dir / "program.json").read_text())["smolopt"]["task"] == "program"
    assert len(proxy.bodies) > start  # every call went over the wire check (conftest's wire_check)


def test_a_metric_without_a_score_is_a_clear_error(registry_path, proxy):
    import pytest

    from smolopt.errors import SmoloptError

    with smolopt.lm(registry=registry_path) as lm:
        with pytest.raises(SmoloptError, match="without a score"):
            smolopt.evaluate(dspy.Predict(Mammal, max_tokens=4), examples(ANIMALS[:1]), lambda e, p: {"feedback": "?"}, lm=lm)


def test_without_a_testset_the_notice_that_val_chose_and_measured_reaches_results_and_report(registry_path, proxy, tmp_path, monkeypatch):
    monkeypatch.setenv("SMOLOPT_RUNS", str(tmp_path / "runs"))
    optimizer = smolopt.Optimizer(metric, registry=registry_path, budget=8, reflection=None)
    optimizer.compile(dspy.Predict(Mammal, max_tokens=4), trainset=examples(ANIMALS[:3]), valset=examples(ANIMALS[3:6]))
    said = "no testset: before/after is measured on valset"
    assert any(said in notice for notice in optimizer.result.notices)
    assert any(said in notice for notice in json.loads((optimizer.run_dir / "results.json").read_text())["notices"])
    assert f"- notice: {said}" in (optimizer.run_dir / "report.md").read_text()
