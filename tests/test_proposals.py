"""Proposal guards and few-shot injection, on the kinds of text a tiny reflector really returns."""

from collections import Counter

import dspy

from smolopt.optimize.proposers import EchoGuardProposer, FewShotProposer, FormatProposer, bias_order, without_prohibitions
from smolopt.adapters.echo import copy_fraction
from smolopt.optimize.guards import extract_instruction, rejection_reason

PROMPT = "Current instruction:\n```\nClassify it.\n```\nExample 1\nInput: text: The soup was cold and the waiter was rude to us.\nFeedback: Predicted positive, but the text is negative."


def test_garbage_proposals_are_rejected_with_a_reason():
    assert rejection_reason("", "stop", PROMPT, "Classify it.") == "empty proposal"
    assert "truncated" in rejection_reason("Classify the sentiment and", "length", PROMPT, "Classify it.")
    assert "repeats" in rejection_reason("```\nclassify it\n```", "stop", PROMPT, "Classify it.")
    copied = "Input: text: The soup was cold and the waiter was rude to us. Feedback: Predicted positive, but the text is negative."
    assert "copies its own prompt" in rejection_reason(f"```\n{copied}\n```", "stop", PROMPT, "Classify it.")


def test_a_real_rewrite_passes():
    reply = "Here you go:\n```\nComplaints are negative. Praise is positive. Plain facts are neutral.\n```"
    proposal = extract_instruction(reply)
    assert proposal == "Complaints are negative. Praise is positive. Plain facts are neutral."
    assert rejection_reason(reply, "stop", PROMPT, "Classify it.") is None
    assert copy_fraction(proposal, PROMPT, run=6) == 0.0


def test_the_echo_guard_drops_prohibitions():
    assert without_prohibitions("Classify the text. DO NOT echo the input. Never explain.") == "Classify the text."


def test_bias_order_puts_under_predicted_labels_first():
    labels = ("positive", "negative", "neutral")
    order = bias_order(labels, Counter(positive=20, neutral=4), Counter(positive=8, negative=8, neutral=8))
    assert order == ["negative", "neutral", "positive"]


def test_few_shot_injection_is_balanced_ordered_and_uses_failures():
    train = [dspy.Example(id=f"{label}{i}", text=f"{label} text {i}", label=label).with_inputs("text")
             for label in ("positive", "negative", "neutral") for i in range(4)]
    proposer = FewShotProposer(train, lambda e, _: {"text": e.text, "sentiment": e.label}, lambda e: e.label,
                               order=["negative", "neutral", "positive"], seed=1)
    ids = proposer.pick(current_ids=[], failing_ids=["negative2"])
    labels = [proposer.by_id[i].label for i in ids]
    assert "negative2" in ids
    assert Counter(labels) == Counter(negative=1, neutral=1, positive=1)
    assert labels == ["negative", "neutral", "positive"]
    demos = proposer.demos("self", ids)
    assert demos[0] == {"id": ids[0], "text": proposer.by_id[ids[0]].text, "sentiment": "negative"}


def test_candidates_far_past_the_probed_rule_budget_are_flagged(tmp_path):
    import json

    from smolopt.optimize.rule_budget import added_sentences, past_budget
    from smolopt.optimize.rule_budget import probed_rule_budget

    probe_dir = tmp_path / "20261121-120000-probe-sentiment"
    probe_dir.mkdir()
    (probe_dir / "probe.json").write_text(json.dumps({"rule_budget": {"smollm2-135m": {"sentiment": 1}}}))
    assert probed_rule_budget("smollm2-135m", "sentiment", tmp_path) == 1
    assert probed_rule_budget("smollm2-135m", "agent_monitor", tmp_path) is None
    seed = {"self": "Classify the text.", "self.demos": "[]"}
    grown = {"self": "Classify the text. Praise is positive. Complaints are negative. Facts are neutral. Prices are neutral.",
             "self.demos": "[]"}
    assert added_sentences(seed, grown) == 4
    assert past_budget(4, budget=1) and not past_budget(3, budget=1) and not past_budget(4, budget=4)


def test_a_val_tie_keeps_the_seed_and_a_two_example_gain_ships():
    from types import SimpleNamespace

    from smolopt.optimize.report import choice_note
    from smolopt.optimize.result import choose

    seed = {i: float(i % 2) for i in range(24)}
    swapped = {i: 1.0 - score for i, score in seed.items()}  # as many right answers, on other examples
    lucky = {**seed, 0: 1.0, 2: 1.0}  # two more right answers out of 24
    result = SimpleNamespace(best_idx=1, val_subscores=[seed, swapped])
    assert choose(result).shipped == 0 and choice_note(choose(result)).startswith("'seed' ships (val argmax, ties to the simpler arm)")
    result = SimpleNamespace(best_idx=1, val_subscores=[seed, lucky])
    assert choose(result).shipped == 1 and choice_note(choose(result)).startswith("'candidate 1' ships (val argmax")
    assert "higher on 2 and lower on 0" in choice_note(choose(result))


def test_an_echoed_prohibition_is_replaced_by_demos_without_asking_the_reflection(tmp_path):
    from pathlib import Path

    from smolopt.candidate import decode_demos, seed_candidate
    from smolopt.optimize.gepa_adapter import Journal, SmoloptGEPAAdapter
    from smolopt.tasks import load_task

    class MustNotReflect:
        name = "reflection"

        def propose(self, *args):
            raise AssertionError("the echo guard should answer without a reflection call")

    task = load_task(str(Path(__file__).resolve().parent.parent / "tasks" / "sentiment"))
    program = task.program()
    fewshot = FewShotProposer(task.split("train"), task.demo_for, task.gold_label, order=["negative", "neutral", "positive"])
    chains = {"instruction": [EchoGuardProposer(fewshot), MustNotReflect(), fewshot]}
    adapter = SmoloptGEPAAdapter(task, program, lm=None, chains=chains, journal=Journal(tmp_path / "p.jsonl"))
    candidate = {**seed_candidate(program), "self": "Classify the sentiment of the text. DO NOT echo the input."}
    failing = task.split("train")[0]
    records = [{"Inputs": {"text": failing.text}, "Generated Outputs": "DO NOT echo the input.", "Feedback": "echoed",
                "score": 0.0, "example_id": failing.id, "echo_kinds": ["prohibition"]}]
    updates = adapter.propose_new_texts(candidate, {"self": records}, ["self"])
    assert updates["self"] == "Classify the sentiment of the text."
    demos = decode_demos(updates["self.demos"])
    assert demos and {d["sentiment"] for d in demos} == {"negative", "neutral", "positive"}
    assert [r.proposer for r in adapter.journal.records] == ["echo guard"]
    assert "prohibition replaced by demos" in adapter.journal.records[0].note


def test_the_format_search_offers_each_usable_format_once_per_parent_best_first():
    from pathlib import Path

    from smolopt.candidate import seed_candidate
    from smolopt.tasks import load_task

    root = Path(__file__).resolve().parent.parent / "tasks"
    program = load_task(str(root / "sentiment")).program()
    proposer = FormatProposer(program)
    parent = seed_candidate(program)
    offered = []
    while (proposed := proposer.propose(parent, "self.format", [])) is not None:
        offered.append(proposed.updates["self.format"])
    assert offered == ["completion score calibrated", "completion score", "completion generate", "chat score calibrated", "chat score"]
    # a free-text predictor has nothing to score: only the ways of generating are offered
    multihop = load_task(str(root / "multihop_qa")).program()
    free = FormatProposer(multihop)
    assert free.propose(seed_candidate(multihop), "reason.format", []).updates == {"reason.format": "completion generate"}


def test_a_program_for_a_server_without_logprobs_is_never_given_a_scored_format():
    """`optimize --deploy` an LM Studio entry: the format proposer offers only what that server can ask."""
    from smolopt.adapters.formats import parse_format
    from smolopt.optimize.proposers.format import FormatProposer
    from smolopt.optimize.runner import served_by
    from smolopt.registry import ModelSpec
    from smolopt.tasks import load_task

    lm_studio = ModelSpec(name="mine", provider="lmstudio", base_url="http://127.0.0.1:1234/v1")
    program = load_task("sentiment").program()
    proposer = FormatProposer(program, chats=True, serves=served_by(lm_studio))
    offered = [str(fmt) for formats in proposer.usable.values() for fmt in formats]
    assert offered and not any(parse_format(text).scores for text in offered), offered
    assert set(offered) <= {"completion generate", "chat generate"}
    assert any(parse_format(text).scores for formats in FormatProposer(program, serves=served_by(None)).usable.values() for text in map(str, formats))


def test_the_optimizer_searches_for_the_student_unless_told_and_the_weights_arm_is_asked_as_the_deployment_can():
    """No --deploy: the student's own entry (an LM Studio student's program never needs logprobs; the
    embedded one keeps every format). The weights arm's zero-shot program, measured on the embedded
    twin that has logprobs, is put in the best format the deployment serves."""
    from pathlib import Path

    from smolopt.candidate import formats_of, seed_candidate
    from smolopt.optimize.command import Optimizer, deployment_fact, deployment_of
    from smolopt.optimize.runner import served_by
    from smolopt.tune.session import in_best_format
    from smolopt.registry import load_registry
    from smolopt.tasks import load_task

    shipped = Path(__file__).resolve().parent.parent / "models.toml"
    registry = load_registry(shipped)
    assert Optimizer(student="lmstudio-smollm2-1.7b", registry=shipped).deploy == "lmstudio-smollm2-1.7b"
    assert Optimizer(registry=shipped).deploy == "smollm2-135m"  # the registry's student, resolved: config.json records the name
    assert Optimizer(deploy="lmstudio-smollm2-1.7b", registry=shipped).deploy == "lmstudio-smollm2-1.7b"

    def formats(program) -> set[str]:
        return set(formats_of(seed_candidate(program)).values())

    sentiment, multihop = load_task("sentiment").program(), load_task("multihop_qa").program()
    lm_studio, embedded, hosted = (registry.get(name) for name in ("lmstudio-smollm2-1.7b", "smollm2-135m", "gpt-4o-mini"))
    assert formats(in_best_format(sentiment, served_by(lm_studio))) == {"completion generate"}
    assert formats(in_best_format(sentiment, served_by(embedded))) == formats(in_best_format(sentiment, served_by(None))) == {"completion score calibrated"}
    assert formats(in_best_format(sentiment, served_by(hosted))) == {"chat score calibrated"}  # no plain-text completions there
    assert formats(in_best_format(multihop, served_by(lm_studio))) == {"completion generate"}
    assert formats(sentiment) == {"chat generate"}  # the task's own program is left as it was

    deployment = deployment_of(lm_studio, {"completions"})
    assert deployment == {"entry": "lmstudio-smollm2-1.7b", "provider": "lmstudio", "offers": ["chat", "completions"], "needs": ["completions"]}
    assert deployment_fact(deployment) == ("deployment", "formats searched for 'lmstudio-smollm2-1.7b' (lmstudio: chat, completions); "
                                                         "what ships needs completions from a server")
