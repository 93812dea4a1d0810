"""The ship decision on constructed val scores, and bench_decision's resampling arithmetic (no model)."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

from smolopt.errors import SmoloptError
from smolopt.optimize.decision import RULES, decide, paired_interval, probability_better

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import bench_decision  # noqa: E402


def scores(right: int, n: int = 12, offset: int = 0) -> list[float]:
    """n examples, `right` of them right, starting at example `offset` (wrapping round)."""
    return [1.0 if (i - offset) % n < right else 0.0 for i in range(n)]


def test_a_clear_win_ships_the_more_complex_arm_and_the_reason_names_the_rule():
    decision = decide({"prompt": scores(4), "weights": scores(7), "both": scores(11)})
    assert decision.arm == "both"
    assert decision.rule == "val argmax, ties to the simpler arm"
    assert decision.reason.startswith("'both' ships (val argmax, ties to the simpler arm): val prompt 33.3%, weights 58.3%, both 91.7%")
    assert "against 'weights' it scores higher on 4 and lower on 0" in decision.reason
    assert decision.val == pytest.approx({"prompt": 4 / 12, "weights": 7 / 12, "both": 11 / 12}) and decision.n == 12


def test_a_tie_keeps_the_simpler_arm_even_when_the_arms_differ_example_by_example():
    tied = decide({"prompt": scores(7), "weights": scores(7, offset=5), "both": scores(7, offset=3)})
    assert tied.arm == "prompt" and "no more complex arm scored higher" in tied.reason
    # weights and both tie above prompt: weights, the simpler of the two, ships (agent_monitor's run had this shape)
    assert decide({"prompt": scores(4), "weights": scores(7), "both": scores(7, offset=2)}).arm == "weights"


def test_a_one_example_edge_on_twelve_ships_the_more_complex_arm():
    """One more right answer of 12 ships 'weights': its expected test score is the higher one, and
    what a wrong call costs is bounded by the true gap, which is small exactly when val misleads;
    the rule before issue 29 kept prompt-only (the paired interval of one example of 12 reaches zero)."""
    val = {"prompt": scores(6), "weights": scores(7)}
    assert decide(val).arm == "weights" and "higher on 1 and lower on 0" in decide(val).reason
    assert paired_interval(val).arm == "prompt" and "no paired interval over it lies above zero" in paired_interval(val).reason
    assert probability_better(val["weights"], val["prompt"]) == pytest.approx(0.75)  # Beta(2, 1) above 1/2
    assert RULES["posterior > 0.8"](val).arm == "prompt"


def test_every_rule_keeps_a_worse_complex_arm_out_and_names_itself():
    val = {"prompt": scores(9), "weights": scores(5), "both": scores(8)}
    for name, rule in RULES.items():
        decision = rule(val)
        assert decision.arm == "prompt", name
        assert decision.reason.startswith(f"'prompt' ships ({decision.rule}): val prompt 75.0%")


def test_free_text_scores_decide_by_their_means():
    assert decide({"seed": [0.50, 0.61, 0.70], "candidate 3": [0.52, 0.60, 0.71]}).arm == "candidate 3"
    assert decide({"seed": [0.5, 0.5], "candidate 3": [0.4, 0.6]}).arm == "seed"


def test_arms_scored_on_different_examples_are_a_programming_error():
    with pytest.raises(ValueError, match="different numbers of val examples"):
        decide({"prompt": [1.0, 0.0], "both": [1.0]})


# --- bench_decision ------------------------------------------------------------------------------

def three_example_run() -> bench_decision.RunScores:
    """Arm 'simple' is right on a only, 'complex' on b and c; val holds one example, test two."""
    return bench_decision.RunScores("toy", {"simple": {"a": 1.0}, "complex": {"a": 0.0}},
                                    {"simple": {"b": 0.0, "c": 0.0}, "complex": {"b": 1.0, "c": 1.0}})


def test_the_bench_counts_hits_and_regret_over_every_split_by_hand():
    """The three pooled splits with a val of one: val {a} ships 'simple', which loses 100 points on
    test {b, c}; val {b} or {c} ships 'complex', which ties 'simple' at 50% on the test left: a hit.
    Hit rate 2/3, regret 100/3 points. The oracle ships 'complex' (2 of 3 over all examples)."""
    run = three_example_run()
    splits = [(["a"], ["b", "c"]), (["b"], ["a", "c"]), (["c"], ["a", "b"])]
    tallies = bench_decision.measure(run, {"argmax": decide}, splits)
    assert tallies["argmax"].splits == 3 and tallies["argmax"].hits == 2
    assert tallies["argmax"].regret == pytest.approx(100 / 3)
    assert tallies["argmax"].shipped == {"simple": 1, "complex": 2}
    oracle = tallies[bench_decision.ORACLE]
    assert oracle.hits == 3 and oracle.regret == 0 and oracle.shipped == {"complex": 3}


def test_pooled_splits_keep_the_val_size_and_use_every_example_once():
    run = three_example_run()
    seen = set()
    for val, test in bench_decision.pooled_splits(run, 60, random.Random(0)):
        assert len(val) == 1 and sorted([*val, *test]) == ["a", "b", "c"]
        seen.add(val[0])
    assert seen == {"a", "b", "c"}
    val, test = next(bench_decision.within_splits(run, 1, random.Random(0)))
    assert val == ["a"] and len(test) == 2 and set(test) <= {"b", "c"}


def test_the_bench_reads_a_runs_per_example_scores_and_sets_the_rules_side_by_side(tmp_path):
    """A results.json shaped like `optimize --weights lora` writes it (weights.examples), on
    synthetic scores: 'both' is right on 10 of 12 val traces and 13 of 16 test traces."""
    rng = random.Random(1)
    examples = bench_decision.synthetic_examples((0.25, 0.5, 0.8), 28, rng)
    run = bench_decision.synthetic_run("agent_monitor", ("prompt", "weights", "both"), examples[:12], examples[12:])
    folder = tmp_path / "20261203-120000-optimize-agent_monitor"
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps({"task": "agent_monitor", "weights": {"examples": {
        "val": run.val, "test": {"seed": {e: 0.0 for e in run.test["prompt"]}, **run.test}}}}))
    read = bench_decision.read_run(folder)
    assert read == run and read.arms == ["prompt", "weights", "both"]
    rows = bench_decision.bench([read], splits=50)
    assert [row[3] for row in rows] == [*RULES, bench_decision.ORACLE]
    assert all(row[:3] == ["agent_monitor", "1", "12 / 16"] for row in rows)
    assert all(0 <= float(row[5]) <= 100 and 0 <= float(row[7]) <= 100 for row in rows)


def test_a_run_without_per_example_scores_is_one_clear_line(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps({"task": "sentiment", "weights": {"arms": []}}))
    with pytest.raises(SmoloptError, match="no 'weights.examples'"):
        bench_decision.read_run(tmp_path)


def test_the_weights_search_ships_by_the_rule_and_keeps_every_arms_scores_by_example():
    from smolopt.evaluation import EvalResult, ExampleResult
    from smolopt.optimize.weights import _ship, scores_by_id

    def result(right: int) -> EvalResult:
        return EvalResult("agent_monitor", "smollm2-135m", "val", [
            ExampleResult(f"trace-{i}", "doom_loop", "doom_loop" if i < right else "making_progress", float(i < right), "", True, [], "",
                          1, 300, 2, 0.5) for i in range(12)])

    # shaped like agent_monitor's val before issue 29 (prompt 4 of 12, weights 7, where the interval kept prompt-only), both one trace ahead
    decision = _ship({"prompt": result(4), "weights": result(7), "both": result(8)})
    assert decision.arm == "both" and decision.rule == "val argmax, ties to the simpler arm"
    assert scores_by_id(result(1)) == {"trace-0": 1.0, **{f"trace-{i}": 0.0 for i in range(1, 12)}}
