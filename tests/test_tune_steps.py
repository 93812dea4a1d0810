"""A user tunes a multi-step program: each predictor learns the steps of the examples its metric
scored right, in the prompt that predictor is served with (DSPy's BootstrapFinetune, issue 18).

The task is a two-step sentiment program made here (say what the text is about, then classify it
from the text and that gist), both steps asked as plain text (a generated gist, a scored label).
The embedded 135M gets 10 of its 24 training examples right, so the metric's filter has work to
do and enough are left to train on. One tune is run; the checks on its steps trace the program
again in that run, whose cache answers every call.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_runner import ROOT, logged_calls, run_smolopt

pytest.importorskip("peft", reason="the tune extra (scripts/setup.sh installs it)")

from smolopt.adapters import RawTextAdapter  # noqa: E402
from smolopt.adapters.completion import as_labelled_reply, completion_prompt  # noqa: E402
from smolopt.adapters.formats import CONFIG_KEY  # noqa: E402
from smolopt.errors import SmoloptError  # noqa: E402
from smolopt.registry import load_registry  # noqa: E402
from smolopt.runs import Run  # noqa: E402
from smolopt.tasks import load_task  # noqa: E402
from smolopt.tune.examples import Served, step_pairs  # noqa: E402
from smolopt.tune.session import in_best_format  # noqa: E402
from smolopt.tune.traces import trace_steps  # noqa: E402

SIZES = {"train": 24, "val": 6, "test": 2}

TASK_PY = '''
from typing import Literal

import dspy

INPUTS = ("text",)
GOLD = ("label",)
RIGHT = {right}  # the score of a right answer


class Gist(dspy.Signature):
    """Say in a few words what the text is about."""

    text: str = dspy.InputField()
    gist: str = dspy.OutputField()


class Judge(dspy.Signature):
    """Classify the sentiment of the text."""

    text: str = dspy.InputField()
    gist: str = dspy.InputField()
    sentiment: Literal["positive", "negative", "neutral"] = dspy.OutputField()


class TwoStep(dspy.Module):
    def __init__(self):
        super().__init__()
        self.gist = dspy.Predict(Gist, max_tokens=12)
        self.judge = dspy.Predict(Judge, max_tokens=4)

    def forward(self, text):
        return self.judge(text=text, gist=self.gist(text=text).get("gist"))


def program():
    return TwoStep()


def metric(example, prediction):
    right = prediction.sentiment == example.label
    return dspy.Prediction(score=RIGHT if right else 0.0, feedback="right" if right else f"the text is {{example.label}}")
'''


def two_step_task(folder: Path, right: float = 1.0) -> Path:
    """The two-step task on the first sentiment rows of each split; a right answer scores `right`."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [json.loads(line) for line in (ROOT / "tasks" / "sentiment" / "data.jsonl").read_text().splitlines() if line.strip()]
    kept = [row for split, size in SIZES.items() for row in [r for r in rows if r["split"] == split][:size]]
    (folder / "data.jsonl").write_text("\n".join(json.dumps(row) for row in kept))
    (folder / "task.py").write_text(TASK_PY.format(right=right))
    return folder


@pytest.fixture(scope="module")
def tuned(tmp_path_factory, registry_path) -> tuple[Path, Path]:
    """`smolopt tune` of the two-step task for one epoch: the task folder and the run folder."""
    tmp = tmp_path_factory.mktemp("tune")
    folder = two_step_task(tmp / "two_step")
    done = run_smolopt(tmp, "--registry", str(registry_path), "tune", str(folder), "--epochs", "1", "--quiet")
    assert done.returncode == 0, done.stderr
    return folder, next((tmp / "runs").glob("*-tune-two_step"))


def trace_again(folder: Path, run: Path, registry_path: Path):
    """The task's program traced once more in the tune's run (its cache answers), as a resumed tune does."""
    task = load_task(str(folder))
    program = in_best_format(task.program())
    (found,) = trace_steps(task, [program], load_registry(registry_path).get("smollm2-135m"), Run(run))
    return task, program, found


def test_a_tune_of_a_two_step_program_reports_what_its_traces_gave(tuned):
    run = tuned[1]
    results = json.loads((run / "results.json").read_text())
    steps = results["steps"]
    kept = steps["train"]["kept"]
    assert steps["threshold"] == 0.8 and steps["train"]["tried"] == SIZES["train"] and 8 <= kept < SIZES["train"], steps  # the filter had work to do
    assert steps["train"]["pairs"] == {"gist": kept, "judge": kept} and steps["val"]["kept"] >= 1, steps
    assert [arm["arm"] for arm in results["arms"]] == ["base", "tuned"] and (run / "adapter.gguf").is_file()
    report = (run / "report.md").read_text()
    assert "steps from the data" in report and f"| train | {SIZES['train']} | {kept} | 0 | {kept} | {kept} |" in report  # its task.py has no demo hook


def test_every_step_of_an_example_scored_right_trains_in_the_prompt_it_was_served_with(tuned, registry_path):
    folder, run = tuned
    sent = len([call for call in logged_calls(run) if not call["cached"]])
    task, program, found = trace_again(folder, run, registry_path)
    assert len([call for call in logged_calls(run) if not call["cached"]]) == sent  # the same steps, without asking the model again
    assert len(found["train"].kept) == json.loads((run / "results.json").read_text())["steps"]["train"]["kept"]
    gold = {str(example.id): example.label for example in task.split("train")}
    written = {call["request"]["prompt"]: call["text"] for call in logged_calls(run) if "prompt" in call["request"]}
    for pair in step_pairs(program, found["train"].steps, chat=None):
        example, step = pair.id.split("/")
        assert pair.prompt in written, pair.prompt  # the very prompt the server was sent
        if step == "judge":  # the scored label, and only right ones were kept
            assert pair.target == " " + gold[example] and pair.choices == (" positive", " negative", " neutral"), pair
        else:  # the gist as the model wrote it
            assert pair.target.strip() == written[pair.prompt].strip() != "", pair


def test_a_score_under_the_bar_is_not_right_and_too_few_right_is_one_line(tuned, registry_path, tmp_path):
    """The same answers (from the run's cache) scored 0.5 when right: under the bar of 0.8, so none is kept."""
    folder = two_step_task(tmp_path / "half_credit", right=0.5)
    with pytest.raises(SmoloptError) as refused:
        trace_again(folder, tuned[1], registry_path)
    message = str(refused.value)
    assert len(message.splitlines()) == 1
    assert "task 'half_credit'" in message and f"got 0 of {SIZES['train']} right" in message and "at least 8" in message, message


def test_a_step_is_trained_as_its_demo_is_written_and_reads_back_the_same():
    """The pure part: a step's prompt plus its target is a demo block (completion) or turn (chat) of
    the same values, and the adapter parses the target back to those values."""
    reason = load_task("multihop_qa").program().reason
    inputs = {"question": "Who was born first, Edda Marrow or Tobias Wren?", "context": "Edda Marrow: born 1811.\nTobias Wren: born 1868."}
    outputs = {"bridge": "Edda Marrow 1811;\nTobias Wren 1868", "candidate": "Edda Marrow"}
    adapter = RawTextAdapter()
    for fmt in ("completion generate", "chat generate"):
        reason.config[CONFIG_KEY] = fmt
        served = Served.of("reason", reason)
        target = served.reply(outputs)
        if fmt.startswith("completion"):
            demo_block = completion_prompt(reason.signature, [{**inputs, **outputs}], inputs).split("\n\n")[1]
            assert completion_prompt(reason.signature, [], inputs).split("\n\n")[1] + target == demo_block
            reply = as_labelled_reply(reason.signature, target)
        else:
            assert target == adapter.format(reason.signature, [{**inputs, **outputs}], inputs)[1]["content"]
            reply = target
        read = adapter.parse(reason.signature, reply)
        assert {name: read[name] for name in outputs} == outputs, (fmt, target)


def test_multihop_rows_give_every_step_from_the_data_and_each_reads_back_as_its_row_says():
    """reason → bridge and candidate, verify → answer, from each row's `bridge` and `answer` (the
    task's demo hook): one step per row and predictor, rendered in the predictor's served format."""
    from smolopt.tune.traces import gold_steps

    task = load_task("multihop_qa")
    program = in_best_format(task.program())
    rows = task.split("train")
    steps = gold_steps(task, program, rows)
    assert [(step.example, step.predictor) for step in steps] == [(str(row.id), name) for row in rows for name in ("reason", "verify")]
    adapter = RawTextAdapter()
    for row, pair, step in zip([row for row in rows for _ in range(2)], step_pairs(program, steps, chat=None), steps):
        predictor = getattr(program, step.predictor)
        assert pair.prompt == completion_prompt(predictor.signature, [], step.inputs)  # served as plain text, zero-shot
        read = adapter.parse(predictor.signature, as_labelled_reply(predictor.signature, pair.target))
        expected = {"bridge": row.bridge, "candidate": row.answer} if step.predictor == "reason" else {"answer": row.answer}
        assert {name: read[name] for name in expected} == expected, pair.target


def test_a_multihop_tune_learns_its_steps_from_the_data_without_asking_the_model_first(registry_path, tmp_path):
    """`smolopt tune` of a user's multihop copy (8 train, 2 val, 2 test rows): refused before, since
    the 135M gets none right; now both steps of every row come from its data, and the only model
    calls are the base and tuned arms on test."""
    folder = tmp_path / "multihop_small"
    folder.mkdir()
    (folder / "task.py").write_text((ROOT / "tasks" / "multihop_qa" / "task.py").read_text())
    rows = [json.loads(line) for line in (ROOT / "tasks" / "multihop_qa" / "data.jsonl").read_text().splitlines() if line.strip()]
    kept = [row for split, size in {"train": 8, "val": 2, "test": 2}.items() for row in [r for r in rows if r["split"] == split][:size]]
    (folder / "data.jsonl").write_text("\n".join(json.dumps(row) for row in kept))
    done = run_smolopt(tmp_path, "--registry", str(registry_path), "tune", str(folder), "--epochs", "1", "--quiet")
    assert done.returncode == 0, done.stderr
    run = next((tmp_path / "runs").glob("*-tune-multihop_small"))
    steps = json.loads((run / "results.json").read_text())["steps"]
    assert steps["train"]["gold"] == 16 and steps["train"]["pairs"] == {"reason": 8, "verify": 8} and steps["val"]["gold"] == 4, steps
    asked = {row["question"] for row in kept if row["split"] != "test"}
    prompts = [call["request"].get("prompt") or json.dumps(call["request"].get("messages")) for call in logged_calls(run)]
    assert prompts and not any(question in prompt for prompt in prompts for question in asked)  # no tracing on train or val
    arms = json.loads((run / "results.json").read_text())["arms"]
    assert [arm["arm"] for arm in arms] == ["base", "tuned"] and all(arm["n"] == 2 for arm in arms)
    assert "steps from the data" in (run / "report.md").read_text()
