"""The probe's readings on recorded numbers: verdict, rule budget, few-shot spread, the card. No model runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smolopt.probe import (
    CAPACITY_PROBLEM,
    PROMPT_PROBLEM,
    WEIGHTS_PROBLEM,
    Measurement,
    TaskProbe,
    chance_level,
    demo_points,
    judge,
    orderings,
    plan_probe,
    results_json,
    rule_budget,
)
from smolopt.probe.card import card_markdown, plot_names, write_card
from smolopt.registry import ModelSpec
from smolopt.tasks import load_task

LABELS = ("positive", "negative", "neutral")
BALANCED = {"positive": 4, "negative": 4, "neutral": 4}
N = 12
RULE_KS = (1, 2, 4, 8, 16)
SENTIMENT = Path(__file__).resolve().parent.parent / "tasks" / "sentiment"


def measurement(name: str, group: str, accuracy: float, k: int = 0, **fields) -> Measurement:
    fields.setdefault("parse_rate", 1.0)
    fields.setdefault("echo_rates", {"prohibition": 0.0, "instruction": 0.0, "definition": 0.0, "input": 0.0})
    return Measurement(name=name, group=group, k=k, accuracy=accuracy, **fields)


def recorded_probe(
    seed: float = 5 / 12,
    rules: tuple[float, ...] = (5 / 12,) * 5,
    demos: dict[int, list[float]] | None = None,
    chat: float = 4 / 12,
    json_accuracy: float = 0.0,
    prohibition: float = 4 / 12,
    asked: dict[str, float] | None = None,
    labels: tuple[str, ...] | None = LABELS,
    model: str = "smollm2-135m",
    task: str = "sentiment",
) -> TaskProbe:
    """A probe as run_probe would record it, every accuracy chosen by the test."""
    demos = demos if demos is not None else {1: [4 / 12], 2: [5 / 12, 4 / 12], 4: [4 / 12, 5 / 12, 3 / 12], 8: [4 / 12] * 3}
    gold = BALANCED if labels else {"(answer)": N}
    measurements = [
        measurement("seed", "seed", seed, format="chat generate", predicted={"positive": 11, "(unparsed)": 1}, gold=gold,
                    prompt_tokens_per_call=52.0),
        measurement("format chat", "format", chat, adapter="chat", parse_rate=0.5, prompt_tokens_per_call=230.0),
        measurement("format json", "format", json_accuracy, adapter="json", parse_rate=0.0, prompt_tokens_per_call=228.0),
    ]
    measurements += [measurement(f"ask {fmt}", "ask", acc, format=fmt, prompt_tokens_per_call=40.0) for fmt, acc in (asked or {}).items()]
    measurements += [
        measurement(f"rules {k}", "rules", acc, k=k, prompt_tokens_per_call=52.0 + 20 * k) for k, acc in zip(RULE_KS, rules)
    ]
    for k, accuracies in demos.items():
        measurements += [
            measurement(f"demos {k} order {i + 1}", "demos", acc, k=k, ordering=i + 1, prompt_tokens_per_call=52.0 + 30 * k)
            for i, acc in enumerate(accuracies)
        ]
    measurements.append(measurement(
        "prohibition line", "prohibition", prohibition,
        echo_rates={"prohibition": 7 / 12, "instruction": 0.0, "definition": 0.0, "input": 3 / 12},
    ))
    return TaskProbe(model=model, task=task, n=N, labels=labels, context_length=2048, measurements=measurements)


# ---- verdict ---------------------------------------------------------------------------------


def test_every_variant_near_chance_is_a_capacity_problem():
    probe = recorded_probe()  # best variant 5/12 = 41.7%, chance 1/3 + 15% = 48.3%
    verdict = probe.verdict()
    assert verdict.label == CAPACITY_PROBLEM
    assert verdict.chance == pytest.approx(1 / 3)
    assert verdict.best_accuracy == pytest.approx(5 / 12)
    assert verdict.best_variant == "seed"  # ties go to the first (simplest) prompt
    assert "48.3%" in verdict.evidence and "41.7%" in verdict.evidence


def test_one_demo_ordering_well_above_chance_is_a_prompt_problem():
    probe = recorded_probe(demos={1: [4 / 12], 2: [5 / 12, 4 / 12], 4: [4 / 12, 9 / 12, 3 / 12], 8: [5 / 12] * 3})
    verdict = probe.verdict()
    assert verdict.label == PROMPT_PROBLEM
    assert verdict.best_variant == "demos 4 order 2"
    assert verdict.best_accuracy == pytest.approx(0.75)
    assert "'demos 4 order 2'" in verdict.evidence and "75.0%" in verdict.evidence


def test_the_verdict_is_over_the_best_way_of_asking_not_only_the_chat_template():
    asked = {"completion score": 5 / 12, "completion score calibrated": 8 / 12}
    probe = recorded_probe(asked=asked)  # every chat-template variant stays near chance
    verdict = probe.verdict()
    assert verdict.label == PROMPT_PROBLEM and verdict.best_variant == "ask completion score calibrated"
    assert [m.name for m in probe.format_axis()] == ["seed", "ask completion score", "ask completion score calibrated"]
    assert recorded_probe(asked={"completion score": 5 / 12}).verdict().label == CAPACITY_PROBLEM


def test_the_threshold_is_inclusive_at_exactly_chance_plus_margin():
    at_threshold = measurement("rules 1", "rules", 0.5, k=1)
    verdict = judge([measurement("seed", "seed", 0.25), at_threshold], chance=0.35, baseline="chance", margin=0.15)
    assert verdict.label == PROMPT_PROBLEM


def test_skipped_variants_do_not_count():
    skipped = measurement("demos 8 order 1", "demos", 1.0, k=8, skipped="exceeds the context")
    verdict = judge([measurement("seed", "seed", 0.3), skipped], chance=1 / 3, baseline="chance")
    assert verdict.label == CAPACITY_PROBLEM
    assert verdict.best_variant == "seed"


def test_prompts_at_chance_but_a_tune_above_it_is_a_weights_problem():
    """Agent monitoring on the 135M: no prompt lifts it, a short LoRA does."""
    probe = recorded_probe()  # every prompt <= 41.7%, threshold 48.3%
    probe.measurements.append(measurement("weights: LoRA r16, 3 epochs", "weights", 9 / 12))
    verdict = probe.verdict()
    assert verdict.label == WEIGHTS_PROBLEM and verdict.best_variant == "weights: LoRA r16, 3 epochs"
    assert "no prompt reached" in verdict.evidence and "75.0%" in verdict.evidence


def test_a_tune_that_stays_at_chance_leaves_a_capacity_problem():
    probe = recorded_probe()
    probe.measurements.append(measurement("weights: LoRA r16, 3 epochs", "weights", 5 / 12))
    verdict = probe.verdict()
    assert verdict.label == CAPACITY_PROBLEM and "scored 41.7%" in verdict.evidence.split(";")[-1]
    assert "weights were not tried" in recorded_probe().verdict().evidence


def test_a_prompt_that_works_wins_over_a_tune_that_works_better():
    """Prompt search is cheaper than a tune: a working prompt makes it a prompt problem."""
    probe = recorded_probe(rules=(0.5,) * 5)
    probe.measurements.append(measurement("weights: LoRA r16, 3 epochs", "weights", 1.0))
    assert probe.verdict().label == PROMPT_PROBLEM


def test_a_majority_label_raises_chance_above_uniform():
    # 6 of 12 gold labels are positive: always answering "positive" scores 50% without reading.
    chance, baseline = chance_level(LABELS, {"positive": 6, "negative": 3, "neutral": 3}, seed_accuracy=0.5)
    assert chance == pytest.approx(0.5)
    assert "positive" in baseline
    assert chance_level(LABELS, BALANCED, seed_accuracy=0.5)[0] == pytest.approx(1 / 3)


def test_free_text_tasks_are_judged_against_the_seed():
    low_demos = {1: [0.25], 2: [0.25, 2 / 12], 4: [0.25, 0.25, 4 / 12], 8: [2 / 12] * 3}
    lifted = recorded_probe(seed=0.25, rules=(0.25, 0.25, 5 / 12, 0.25, 0.0), demos=low_demos, labels=None, task="multihop_qa")
    assert lifted.chance() == (0.25, "seed accuracy")
    assert lifted.verdict().label == PROMPT_PROBLEM  # 41.7% >= 25% + 15%
    assert lifted.verdict().best_variant == "rules 4"
    flat = recorded_probe(seed=0.25, rules=(0.25, 4 / 12, 0.25, 0.25, 0.0), demos=low_demos, labels=None, task="multihop_qa")
    assert flat.verdict().label == CAPACITY_PROBLEM  # 33.3% < 40%


# ---- rule budget -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accuracies", "budget"),
    [
        pytest.param([0.5, 0.5, 0.5, 0.5, 0.5, 0.5], 16, id="flat"),
        pytest.param([0.5, 0.5, 0.5, 0.25, 0.25, 0.17], 2, id="falls-after-2"),
        pytest.param([0.25, 0.33, 0.42, 0.5, 0.58, 0.67], 16, id="monotone-rising"),
        pytest.param([0.5, 6 / 12, 5 / 12, 2 / 12, 2 / 12, 1 / 12], 2, id="one-example-drop-still-holds"),
        pytest.param([0.5, 0.25, 0.5, 0.5, 0.25, 0.25], 4, id="dip-that-recovers"),
        pytest.param([0.6, 0.25, 0.25, 0.25, 0.25, 0.25], 0, id="falls-at-once"),
    ],
)
def test_rule_budget(accuracies: list[float], budget: int):
    curve = list(zip((0, 1, 2, 4, 8, 16), accuracies))
    assert rule_budget(curve, tolerance=1 / 12) == budget


def test_rule_budget_ignores_point_order_and_handles_an_empty_curve():
    assert rule_budget([(4, 0.2), (0, 0.5), (2, 0.5), (1, 0.5)], tolerance=1 / 12) == 2
    assert rule_budget([], tolerance=1 / 12) == 0


def test_task_probe_reads_its_rule_budget_from_the_seed_and_rule_points():
    probe = recorded_probe(seed=0.5, rules=(0.5, 0.5, 0.25, 0.25, 0.0))
    assert probe.rule_budget() == 2
    assert results_json([probe])["rule_budget"] == {"smollm2-135m": {"sentiment": 2}}


# ---- few-shot spread and orderings -----------------------------------------------------------


def test_demo_points_report_mean_min_max_over_orderings():
    probe = recorded_probe(demos={1: [0.25], 2: [0.5, 0.25], 4: [0.25, 0.75, 0.5]})
    points = {p.k: p for p in probe.demo_curve()}
    assert sorted(points) == [0, 1, 2, 4]
    assert points[0].orderings == 1 and points[0].mean == pytest.approx(5 / 12)
    assert (points[4].orderings, points[4].mean, points[4].min, points[4].max) == (3, pytest.approx(0.5), 0.25, 0.75)
    assert points[4].prompt_tokens_per_call == pytest.approx(52.0 + 120)


def test_a_demo_count_with_every_ordering_skipped_keeps_its_reason():
    runs = [measurement("demos 8 order 1", "demos", 0.0, k=8, skipped="about 2250 prompt tokens exceed the context")]
    (point,) = demo_points(runs)
    assert point.orderings == 0 and "2250" in point.skipped


def test_orderings_are_distinct_permutations_and_at_most_three():
    assert orderings(0) == [()]
    assert orderings(1) == [(0,)]
    assert sorted(orderings(2)) == [(0, 1), (1, 0)]
    four = orderings(4)
    assert len(four) == 3 and len(set(four)) == 3
    assert four[0] == (0, 1, 2, 3)
    assert all(sorted(order) == [0, 1, 2, 3] for order in four)


# ---- plan (pure Python: the real sentiment task, no model) ------------------------------------


def test_plan_skips_prompts_that_would_not_fit_and_counts_the_rest():
    task = load_task(str(SENTIMENT))
    spec = ModelSpec(name="tiny", provider="llamacpp", base_url="http://localhost:1/v1", context_length=256, max_tokens=64)
    plan = plan_probe(task, spec, n=5)
    assert len(plan.examples) == 5
    assert plan.total_steps == plan.evaluations * 5
    for variant in plan.variants:
        too_long = variant.estimated_prompt_tokens + 12 > spec.context_length  # sentiment asks for 12 tokens at most
        assert bool(variant.skipped) == too_long, variant.name
    names = {v.name: v for v in plan.variants}
    assert not names["seed"].skipped
    assert names["demos 8 order 1"].skipped  # eight demos grow the prompt past 256 tokens
    # demos are balanced over the labels: 4 demos cover all three
    demo_labels = {task.gold_label(next(e for e in task.split("train") if e.id == i)) for i in names["demos 4 order 1"].demo_ids}
    assert demo_labels == set(LABELS)
    # the format axis: every way but the seed's own, scored ones included for a label task
    assert sorted(v.name for v in plan.variants if v.group == "ask") == sorted(
        f"ask {fmt}" for fmt in ("completion score calibrated", "completion score", "completion generate", "chat score calibrated", "chat score"))


# ---- the card ---------------------------------------------------------------------------------


def test_card_renders_tables_verdict_and_plots(tmp_path: Path):
    prompt = recorded_probe(seed=0.5, rules=(0.5, 0.5, 0.25, 0.25, 0.0),
                            demos={1: [4 / 12], 2: [5 / 12, 4 / 12], 4: [4 / 12, 9 / 12, 3 / 12], 8: [5 / 12] * 3})
    prompt.measurements.append(measurement("ask completion score calibrated", "ask", 7 / 12, format="completion score calibrated",
                                           prompt_tokens_per_call=40.0))
    capacity = recorded_probe(model="ollama-gemma3-270m")
    card = write_card([prompt, capacity], tmp_path)
    text = card.read_text(encoding="utf-8")

    assert "## smollm2-135m · sentiment" in text and "## ollama-gemma3-270m · sentiment" in text
    assert "**Verdict: prompt problem**" in text and "'demos 4 order 2' reached 75.0%" in text
    assert "**Verdict: capacity problem**" in text
    assert "**Rule budget: 2**" in text and "| 2 ← rule budget | 50.0% |" in text
    assert "| 4 | 3 | 44.4% | 25.0% | 75.0% |" in text  # few-shot mean/min/max at 4 demos
    assert '| seed + "DO NOT repeat the input." | 58.3% | 0.0% | 0.0% | 25.0% |' in text
    assert "| positive | 11 | 4 |" in text and "| (unparsed) | 1 | 0 |" in text
    assert "| chat generate (seed) | 50.0% | 100.0% | 52 |" in text and "| completion score calibrated | 58.3% | 100.0% | 40 |" in text
    assert "| chat (seed) |" not in text and "| raw (seed) | 100.0% | 50.0% | 52 |" in text
    # the side-by-side table: one row per (model, task)
    assert "| model | task | seed accuracy | parse raw | parse chat | parse json |" in text
    assert "| smollm2-135m | sentiment | 50.0% | 100.0% | 50.0% | 0.0% | 2 | 50.0% @ 0 | 58.3% | not tried | prompt problem |" in text

    for probe in (prompt, capacity):
        for name in plot_names(probe):
            png = tmp_path / name
            assert f"]({name})" in text
            assert png.stat().st_size > 1000
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_single_probe_card_has_no_side_by_side_table():
    text = card_markdown([recorded_probe()])
    assert "| model | task |" not in text
    assert "**Verdict: capacity problem**" in text


def test_results_json_holds_every_number_and_is_serializable():
    data = json.loads(json.dumps(results_json([recorded_probe()])))
    (probe,) = data["probes"]
    assert probe["verdict"]["label"] == CAPACITY_PROBLEM
    assert probe["rule_budget"] == 16
    assert len(probe["measurements"]) == 1 + 2 + 5 + 9 + 1
    assert probe["pooled_echo_rates"]["prohibition"] == pytest.approx((7 / 12) / 16)  # 16 raw-text evaluations: chat and json detect no echoes
