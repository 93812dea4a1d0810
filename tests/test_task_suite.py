"""The four bundled tasks load, their metrics judge known answers, and their demos fit their programs.

No model runs here: predictions are built by hand, and the one program run uses a scripted LM.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import shutil
from collections import Counter
from pathlib import Path

import dspy
import pytest

from smolopt.adapters import PARSE_ERROR, RAW, RawTextAdapter
from smolopt.adapters.outcomes import answer_outcome, collect_outcomes
from smolopt.errors import SmoloptError
from smolopt.tasks import SPLITS, load_task

TASKS_DIR = Path(__file__).resolve().parent.parent / "tasks"
TASK_NAMES = ("sentiment", "agent_monitor", "multihop_qa", "commonsense_mc")

SIZES = {
    "sentiment": {"train": 78, "val": 78, "test": 96},
    "agent_monitor": {"train": 20, "val": 12, "test": 16},
    "multihop_qa": {"train": 16, "val": 12, "test": 16},
    "commonsense_mc": {"train": 52, "val": 44, "test": 64},
}
EXPECTED_LABELS = {
    "sentiment": ("positive", "negative", "neutral"),
    "agent_monitor": ("doom_loop", "api_confusion", "verbose_thinking", "making_progress"),
    "multihop_qa": None,
    "commonsense_mc": ("A", "B", "C", "D", "E"),
}
# (output, gold field): read from each program's signature and GOLD, not said again in task.py
EXPECTED_FIELDS = {
    "sentiment": ("sentiment", "label"),
    "agent_monitor": ("state", "label"),
    "multihop_qa": ("answer", "answer"),
    "commonsense_mc": ("answer", "answer"),
    "story": ("story", None),
    "long_story": ("story", None),
}


def load_module(path: Path):
    spec = importlib.util.spec_from_file_location(f"test_{path.parent.name}_task", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def task(name: str):
    return load_task(name, root=TASKS_DIR)


def good_prediction(t, example) -> dspy.Prediction:
    fields = {t.output: example.get(t.gold_field)}
    if t.name == "multihop_qa":
        fields.update(bridge=example.bridge, candidate=example.answer)
    return dspy.Prediction(**fields)


def wrong_answer(t, example):
    gold = example.get(t.gold_field)
    if t.labels:
        return next(label for label in t.labels if label != gold)
    return "Nobody In Particular"


# --- loading -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TASK_NAMES)
def test_task_loads_with_expected_split_sizes(name):
    t = task(name)
    assert t.name == name
    assert t.sizes() == SIZES[name]
    assert t.labels == EXPECTED_LABELS[name]
    assert t.description  # the module docstring's first line
    assert t.rules, "every bundled task ships rules.txt"
    ids = [str(e.id) for split in SPLITS for e in t.split(split)]
    assert len(ids) == len(set(ids))
    for example in t.split("train"):
        assert set(example.inputs().keys()) == set(t.inputs)
        assert example.get(t.gold_field) not in (None, "")


@pytest.mark.parametrize("name", [n for n in TASK_NAMES if EXPECTED_LABELS[n]])
@pytest.mark.parametrize("split", SPLITS)
def test_labels_are_balanced(name, split):
    t = task(name)
    counts = t.label_counts(split)
    assert set(counts) == set(t.labels), f"{name}/{split}: every label appears"
    assert max(counts.values()) - min(counts.values()) <= 1, f"{name}/{split}: {dict(counts)}"


def test_load_task_by_name_uses_the_tasks_dir(monkeypatch):
    monkeypatch.setenv("SMOLOPT_TASKS", str(TASKS_DIR))
    assert load_task("commonsense_mc").sizes() == SIZES["commonsense_mc"]


# --- metrics -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TASK_NAMES)
def test_metric_scores_gold_one_and_a_wrong_answer_lower(name):
    t = task(name)
    for example in t.split("val"):
        right = t.metric(example, good_prediction(t, example))
        assert right.score == 1.0, (example.id, right.feedback)
        assert right.feedback.startswith("Correct")

        bad = good_prediction(t, example)
        bad[t.output] = wrong_answer(t, example)
        if name == "multihop_qa":
            bad["candidate"] = "Nobody In Particular"
            bad["bridge"] = "nothing"
        wrong = t.metric(example, bad)
        assert 0.0 <= wrong.score < 1.0
        assert not wrong.feedback.startswith("Correct")
        assert str(example.get(t.gold_field)) in wrong.feedback, wrong.feedback


def test_sentiment_feedback_names_both_labels():
    t = task("sentiment")
    example = next(e for e in t.split("train") if e.label == "negative")
    verdict = t.metric(example, dspy.Prediction(sentiment="positive"))
    assert verdict.score == 0.0
    assert "Predicted positive" in verdict.feedback and "negative" in verdict.feedback


def test_agent_monitor_feedback_explains_every_confusion():
    t = task("agent_monitor")
    by_label = {e.label: e for e in t.split("train")}
    feedbacks = {}
    for gold, said in itertools.permutations(t.labels, 2):
        verdict = t.metric(by_label[gold], dspy.Prediction(state=said))
        assert verdict.score == 0.0
        assert verdict.feedback.startswith(f"Predicted {said}, but this is {gold}:"), verdict.feedback
        feedbacks[gold, said] = verdict.feedback
    assert len(set(feedbacks.values())) == len(feedbacks)
    assert "same error" in feedbacks["api_confusion", "doom_loop"]
    assert "no errors" in feedbacks["doom_loop", "api_confusion"]
    assert "one tool call" in feedbacks["verbose_thinking", "making_progress"]
    assert "different" in feedbacks["making_progress", "doom_loop"]
    example = by_label["api_confusion"]
    assert example.notes in feedbacks["api_confusion", "doom_loop"]


def test_agent_monitor_synonyms_parse():
    signature = task("agent_monitor").program().signature
    adapter = RawTextAdapter()
    for text, label in [
        ("doom loop", "doom_loop"),
        ("**Doom_loop**", "doom_loop"),
        ("API confusion.", "api_confusion"),
        ("verbose", "verbose_thinking"),
        ("The agent is making progress.", "making_progress"),
        ("State: progress", "making_progress"),
    ]:
        parsed = adapter.parse_with_inputs(signature, text, {})
        assert parsed[PARSE_ERROR] is None, (text, parsed)
        assert parsed["state"] == label, text


def test_sentiment_synonyms_parse():
    signature = task("sentiment").program().signature
    parsed = RawTextAdapter().parse_with_inputs(signature, "pos", {})
    assert parsed["sentiment"] == "positive"


def test_commonsense_feedback_names_the_choice_texts():
    t = task("commonsense_mc")
    example = next(e for e in t.split("train") if e.question == "What sweet food do bees make?")
    verdict = t.metric(example, dspy.Prediction(answer="C"))
    assert verdict.score == 0.0
    assert verdict.feedback == "Predicted C (milk), but the answer is B (honey)."
    assert t.metric(example, dspy.Prediction(answer="B")).feedback == "Correct: B (honey)."


def test_multihop_partial_span_gets_partial_credit():
    t = task("multihop_qa")
    example = next(e for e in t.split("train") if e.answer == "Low Tide Lanterns")
    # "Low Tide Lanterns album": precision 3/4, recall 1 -> F1 6/7; EM 0
    verdict = t.metric(example, dspy.Prediction(answer="Low Tide Lanterns album", bridge=example.bridge, candidate=example.answer))
    assert verdict.score == pytest.approx(0.7 * 6 / 7)
    assert "Hop 2 (verify) failed" in verdict.feedback and "partly right" in verdict.feedback
    assert "'Low Tide Lanterns'" in verdict.feedback
    # one word of three: precision 1, recall 1/3 -> F1 1/2
    assert t.metric(example, dspy.Prediction(answer="Lanterns", bridge="", candidate="")).score == pytest.approx(0.35)


def test_multihop_metric_port_ellery_vs_harbour():
    t = task("multihop_qa")
    example = dspy.Example(
        id="x", question="Where?", context=[], answer="Port Ellery", supporting_titles=["A", "B"], bridge="River Quell"
    ).with_inputs("question", "context")
    verdict = t.metric(example, dspy.Prediction(answer="Port Ellery harbour", bridge="River Quell", candidate="Port Ellery"))
    # precision 2/3, recall 1 -> F1 0.8; EM 0
    assert verdict.score == pytest.approx(0.7 * 0.8)
    assert "Hop 2 (verify) failed" in verdict.feedback
    assert "'Port Ellery harbour'" in verdict.feedback
    exact = t.metric(example, dspy.Prediction(answer="the port ellery.", bridge="", candidate=""))
    assert exact.score == 1.0  # case, punctuation and articles do not count


def test_multihop_feedback_names_the_failing_hop():
    t = task("multihop_qa")
    example = next(e for e in t.split("train") if e.answer == "Low Tide Lanterns")
    assert example.bridge == "The Copper Finches"

    hop1 = t.metric(example, dspy.Prediction(answer="Jonah Petrel", bridge="The Tamsin Ferrymen", candidate="Jonah Petrel"))
    assert hop1.score == 0.0
    assert hop1.feedback.startswith("Hop 1 (reason) failed")
    assert "gold bridge: 'The Copper Finches'" in hop1.feedback
    assert "Low Tide Lanterns" in hop1.feedback
    assert "'Jonah Petrel'" in hop1.feedback

    bridge_only = t.metric(example, dspy.Prediction(answer="Corvel", bridge="Copper Finches", candidate="Corvel"))
    assert bridge_only.score == 0.0
    assert bridge_only.feedback.startswith("Hop 1 (reason) found the bridge")

    hop2 = t.metric(example, dspy.Prediction(answer="Jonah Petrel", bridge="The Copper Finches", candidate="Low Tide Lanterns"))
    assert hop2.score == 0.0
    assert hop2.feedback.startswith("Hop 2 (verify) failed: the candidate 'Low Tide Lanterns' was right but the final answer 'Jonah Petrel'")

    unparsed_reason = t.metric(example, dspy.Prediction(answer="Jonah Petrel", bridge=None, candidate=None))
    assert unparsed_reason.feedback.startswith("Hop 1 (reason) failed")


# --- demos ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TASK_NAMES)
def test_demo_for_fits_every_predictor(name):
    t = task(name)
    program = t.program()
    predictors = program.named_predictors()
    assert predictors
    for example in t.split("train"):
        for predictor_name, predictor in predictors:
            demo = t.demo_for(example, predictor_name)
            assert isinstance(demo, dict), (name, predictor_name)
            fields = set(predictor.signature.input_fields) | set(predictor.signature.output_fields)
            assert fields <= set(demo), (name, predictor_name, fields - set(demo))
            for output in predictor.signature.output_fields:
                assert demo[output] not in (None, "")


def test_multihop_program_shape_and_demos():
    t = task("multihop_qa")
    program = t.program()
    assert [name for name, _ in program.named_predictors()] == ["reason", "verify"]
    assert set(program.reason.signature.output_fields) == {"bridge", "candidate"}
    assert set(program.verify.signature.output_fields) == {"answer"}
    assert program.reason.config["max_tokens"] > program.verify.config["max_tokens"]

    example = t.split("train")[0]
    module = load_module(TASKS_DIR / "multihop_qa" / "task.py")
    rendered = module.render_context(example.context)
    assert rendered.splitlines()[0] == f"{example.context[0]['title']}: {example.context[0]['text']}"
    assert len(rendered.splitlines()) == len(example.context)
    reason = t.demo_for(example, "reason")
    assert reason == {"question": example.question, "context": rendered, "bridge": example.bridge, "candidate": example.answer}
    verify = t.demo_for(example, "verify")
    assert verify["candidate"] == verify["answer"] == example.answer
    assert verify["context"] == rendered


class ScriptedLM(dspy.BaseLM):
    """Returns the given replies in order and records the prompts (no model)."""

    def __init__(self, replies):
        super().__init__(model="scripted")
        self.replies = list(replies)
        self.prompts = []

    def __call__(self, prompt=None, messages=None, **kwargs):
        self.prompts.append(messages)
        return [self.replies.pop(0)]


def test_multihop_forward_keeps_reason_outputs_and_verify_markers():
    t = task("multihop_qa")
    example = next(e for e in t.split("train") if e.answer == "Low Tide Lanterns")
    lm = ScriptedLM(["Bridge: The Copper Finches\nCandidate: Low Tide Lanterns", "Low Tide Lanterns"])
    with collect_outcomes() as outcomes, dspy.context(lm=lm, adapter=RawTextAdapter()):
        prediction = t.program()(**example.inputs())
    assert prediction.answer == "Low Tide Lanterns"
    assert prediction.bridge == "The Copper Finches"
    assert prediction.candidate == "Low Tide Lanterns"
    assert prediction.get(RAW) == "Low Tide Lanterns"
    answer = answer_outcome(outcomes, t.output)
    assert answer.raw == "Low Tide Lanterns" and answer.parse_error is None
    assert answer.echoes == ()  # verify copying the candidate is its answer, not an echo
    assert PARSE_ERROR not in prediction  # parse facts travel in the Outcome only
    # the context reached both predictors rendered as "Title: text" lines
    first = example.context[0]
    for messages in lm.prompts:
        assert f"{first['title']}: {first['text']}" in messages[-1]["content"]
    assert "Candidate: Low Tide Lanterns" in lm.prompts[1][-1]["content"]
    assert t.metric(example, prediction).score == 1.0

    lm = ScriptedLM(["Bridge: The Copper Finches\nCandidate: Low Tide Lanterns", ""])
    with collect_outcomes() as outcomes, dspy.context(lm=lm, adapter=RawTextAdapter()):
        failed = t.program()(**example.inputs())
    assert answer_outcome(outcomes, t.output).parse_error  # verify's parse failure is its answer's Outcome
    assert failed.answer is None and failed.candidate == "Low Tide Lanterns"


def test_multihop_echoes_and_parse_failures_of_either_hop_reach_the_collector():
    """The task program is plain DSPy: the adapter announces each step's outcome, nothing is forwarded."""
    t = task("multihop_qa")
    example = next(e for e in t.split("train") if e.answer == "Low Tide Lanterns")
    echoing = "Bridge: Find the paragraph about the entity in the question\nCandidate: Low Tide Lanterns"
    lm = ScriptedLM([echoing, "Low Tide Lanterns"])
    with collect_outcomes() as outcomes, dspy.context(lm=lm, adapter=RawTextAdapter()):
        prediction = t.program()(**example.inputs())
    assert prediction.answer == "Low Tide Lanterns"
    assert [[echo.kind for echo in outcome.echoes] for outcome in outcomes] == [["instruction"], []]

    lm = ScriptedLM(["Bridge: The Copper Finches\nCandidate: Low Tide Lanterns", "What was the debut album of the band"])
    with collect_outcomes() as outcomes, dspy.context(lm=lm, adapter=RawTextAdapter()):
        t.program()(**example.inputs())
    assert [echo.kind for outcome in outcomes for echo in outcome.echoes] == ["input"]  # verify copying the question still counts

    lm = ScriptedLM(["", "Low Tide Lanterns"])  # the first step says nothing readable
    with collect_outcomes() as outcomes, dspy.context(lm=lm, adapter=RawTextAdapter()):
        t.program()(**example.inputs())
    assert [outcome.parse_error is not None for outcome in outcomes] == [True, False]


# --- parsing commonsense answers -----------------------------------------------------------------


@pytest.mark.parametrize("text", ["B", "(B)", "B) honey", "The answer is B", "honey", "**B**", "Answer: B"])
def test_commonsense_answers_parse_to_the_letter(text):
    signature = task("commonsense_mc").program().signature
    choices = {"A": "wool", "B": "honey", "C": "milk", "D": "butter", "E": "silk"}
    parsed = RawTextAdapter().parse_with_inputs(signature, text, {"choices": choices})
    assert parsed[PARSE_ERROR] is None, parsed
    assert parsed["answer"] == "B"


def test_commonsense_choice_text_needs_the_choices_input():
    signature = task("commonsense_mc").program().signature
    parsed = RawTextAdapter().parse_with_inputs(signature, "honey", {})
    assert parsed["answer"] is None
    assert parsed[PARSE_ERROR]


# --- malformed data ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda line: line[:-5], "not valid JSON"),
        (lambda line: line.replace('"split": "', '"split": "dev', 1), "field 'split'"),
    ],
)
def test_malformed_row_names_file_and_line(tmp_path, corrupt, message):
    folder = tmp_path / "commonsense_mc"
    shutil.copytree(TASKS_DIR / "commonsense_mc", folder)
    data = folder / "data.jsonl"
    lines = data.read_text(encoding="utf-8").splitlines()
    lines[2] = corrupt(lines[2])
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SmoloptError) as raised:
        load_task(str(folder))
    assert f"{data}:3:" in str(raised.value)
    assert message in str(raised.value)


def test_wrong_label_row_is_rejected(tmp_path):
    folder = tmp_path / "agent_monitor"
    shutil.copytree(TASKS_DIR / "agent_monitor", folder)
    data = folder / "data.jsonl"
    lines = data.read_text(encoding="utf-8").splitlines()
    lines[4] = lines[4].replace('"label": "', '"label": "x', 1)
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SmoloptError, match=r"data\.jsonl:5: field 'label'"):
        load_task(str(folder))
    # the untouched copy still loads
    assert Counter(load_task(str(TASKS_DIR / "agent_monitor")).label_counts("train")).total() == 20


# --- task facts said once ------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(EXPECTED_FIELDS))
def test_output_labels_and_gold_field_come_from_the_signature(name):
    t = task(name)
    assert (t.output, t.gold_field) == EXPECTED_FIELDS[name]
    assert t.labels == EXPECTED_LABELS.get(name)
    module = load_module(TASKS_DIR / name / "task.py")
    assert not hasattr(module, "LABELS") and not hasattr(module, "GOLD_FIELD")  # said once, in the signature and GOLD
    assert t.uses_judge == (name == "story")  # its metric takes a `judge`


def sentiment_copy(tmp_path: Path, replace: tuple[str, str]) -> Path:
    folder = tmp_path / "mysentiment"
    shutil.copytree(TASKS_DIR / "sentiment", folder)
    text = (folder / "task.py").read_text(encoding="utf-8")
    assert replace[0] in text
    (folder / "task.py").write_text(text.replace(*replace), encoding="utf-8")
    return folder


@pytest.mark.parametrize("edit, message", [
    (('GOLD = ("label",)\n', 'GOLD = ("label",)\nLABELS = ("positive", "negative")\n'), "LABELS ('positive', 'negative') are not the labels"),
    (('GOLD = ("label",)\n', 'GOLD = ("label", "text")\n'), "which of GOLD ('label', 'text') holds the gold 'sentiment'? Set GOLD_FIELD"),
    (('GOLD = ("label",)\n', 'GOLD = ("label",)\nGOLD_FIELD = "mood"\n'), "GOLD_FIELD 'mood' is not one of GOLD"),
    (('GOLD = ("label",)\n', 'GOLD = ("label",)\nANSWER = "label"\n'), "'ANSWER' is no longer read"),
])
def test_an_override_that_disagrees_with_the_signature_is_a_one_line_error(tmp_path, edit, message):
    folder = sentiment_copy(tmp_path, edit)
    with pytest.raises(SmoloptError) as raised:
        load_task(str(folder))
    assert str(raised.value).startswith(f"{folder / 'task.py'}: ") and message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_label_order_and_gold_field_given_in_task_py_are_used(tmp_path):
    edit = ('GOLD = ("label",)\n', 'GOLD = ("label", "text")\nGOLD_FIELD = "label"\nLABELS = ("neutral", "negative", "positive")\n')
    t = load_task(str(sentiment_copy(tmp_path, edit)))
    assert t.labels == ("neutral", "negative", "positive") and t.gold_field == "label"


# --- the judge is handed to the metric, per run -------------------------------------------------


JUDGED_TASK = '''"""A judged task for tests: the metric says which judge it was handed."""

import dspy

INPUTS = ("text",)
GOLD = ()


class Write(dspy.Signature):
    text: str = dspy.InputField()
    reply: str = dspy.OutputField()


def program():
    return dspy.Predict(Write)


def metric(example, prediction, judge):
    return dspy.Prediction(score=1.0, feedback=judge.why_absent)
'''


def test_each_run_hands_the_metric_its_own_judge_on_every_thread(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from smolopt.metrics.judge import Judge

    folder = tmp_path / "judged"
    folder.mkdir()
    (folder / "task.py").write_text(JUDGED_TASK, encoding="utf-8")
    rows = [{"id": f"{split}{i}", "split": split, "text": f"t{i}"} for split in SPLITS for i in range(2)]
    (folder / "data.jsonl").write_text("\n".join(json.dumps(row) for row in rows), encoding="utf-8")
    loaded = load_task(str(folder))
    assert loaded.uses_judge and loaded.output == "reply" and loaded.gold_field is None
    example, prediction = loaded.split("test")[0], dspy.Prediction(reply="x")
    assert loaded.metric(example, prediction).feedback == "no judge was opened for this run"
    runs = {name: loaded.with_judge(Judge.absent(name)) for name in ("first run", "second run")}
    with ThreadPoolExecutor(4) as pool:
        seen = list(pool.map(lambda name: (name, runs[name].metric(example, prediction).feedback), [*runs] * 8))
    assert all(name == feedback for name, feedback in seen)
    assert loaded.metric(example, prediction).feedback == "no judge was opened for this run"  # the loaded task is unchanged


def test_outcomes_are_collected_per_example_when_examples_run_on_threads():
    """Two multihop examples on two threads at once: each collection holds its own example's two steps."""
    from concurrent.futures import ThreadPoolExecutor

    t = task("multihop_qa")
    example = next(e for e in t.split("train") if e.answer == "Low Tide Lanterns")
    replies = {"parsed": ["Bridge: The Copper Finches\nCandidate: Low Tide Lanterns", "Low Tide Lanterns"],
               "unparsed": ["Bridge: The Copper Finches\nCandidate: Low Tide Lanterns", ""]}

    def run(kind: str) -> tuple[str, list]:
        with collect_outcomes() as outcomes, dspy.context(lm=ScriptedLM(replies[kind]), adapter=RawTextAdapter()):
            t.program()(**example.inputs())
        return kind, outcomes

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(run, ["parsed", "unparsed"] * 6))
    for kind, outcomes in results:
        assert [o.fields for o in outcomes] == [("bridge", "candidate"), ("answer",)]
        assert (answer_outcome(outcomes, "answer").parse_error is None) == (kind == "parsed")
