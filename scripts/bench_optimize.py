"""smolopt optimize against stock dspy.GEPA, side by side in one run, on the embedded SmolLM2-135M.

Both arms: the sentiment task, the same student, the same metric-call budget, fresh caches. Stock
dspy.GEPA runs as DSPy ships it (ChatAdapter, its default instruction proposer) with the student
as its own reflection model; both arms reach the model through smolopt's LocalClient, since DSPy's
default `openai/` route sends `max_completion_tokens`, which llama-cpp-python's server ignores.

    python scripts/bench_optimize.py [--budget 120]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import dspy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmd import preamble, write_section  # noqa: E402

from smolopt.backends import CallLog, Models  # noqa: E402
from smolopt.evaluation import evaluate, score_prediction  # noqa: E402
from smolopt.optimize.runner import optimize  # noqa: E402
from smolopt.registry import load_registry  # noqa: E402
from smolopt.report import markdown_table, pct  # noqa: E402
from smolopt.runs import new_run  # noqa: E402
from smolopt.stats import bootstrap_interval, paired_difference_interval  # noqa: E402
from smolopt.tasks import load_task  # noqa: E402


def with_interval(result) -> str:
    low, high = bootstrap_interval([e.score for e in result.examples])
    return f"{pct(result.accuracy)} [{pct(low)}, {pct(high)}]"


def paired_change(before, after) -> str:
    low, high = paired_difference_interval([e.score for e in before.examples], [e.score for e in after.examples])
    return f"{100 * (after.accuracy - before.accuracy):+.1f} pts [{100 * low:+.1f}, {100 * high:+.1f}]"


def stock_gepa(task, registry, budget: int) -> dict:
    def metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
        score, feedback, *_ = score_prediction(task, gold, pred)
        return dspy.Prediction(score=score, feedback=feedback)

    with Models(registry, log=CallLog()) as models:
        lm = models.lm(None)
        start = time.perf_counter()
        before = evaluate(task, task.program(), task.split("test"), lm, split="test", adapter=dspy.ChatAdapter())
        with dspy.context(lm=lm, adapter=dspy.ChatAdapter()):
            optimizer = dspy.GEPA(metric=metric, max_metric_calls=budget, reflection_lm=lm, track_stats=True, seed=0)
            optimized = optimizer.compile(task.program(), trainset=task.split("train"), valset=task.split("val"))
        after = evaluate(task, optimized, task.split("test"), lm, split="test", adapter=dspy.ChatAdapter())
        metric_calls = optimized.detailed_results.total_metric_calls if hasattr(optimized, "detailed_results") else budget
        return {"before": before, "after": after, "metric_calls": metric_calls, "lm_calls": models.log.made, "wall_s": time.perf_counter() - start}


def smolopt_arm(task, registry, budget: int) -> dict:
    os.environ["SMOLOPT_RUNS"] = tempfile.mkdtemp(prefix="bench-optimize-")
    run = new_run("optimize", task.name, {"task": task.name, "bench": True})
    with run.models(registry) as models:
        start = time.perf_counter()
        _, result = optimize(task, models, run, student=registry.default_student, reflection=None, budget=budget)
        return {"before": result.baseline_test, "after": result.optimized_test, "metric_calls": result.metric_calls,
                "lm_calls": models.log.made, "wall_s": time.perf_counter() - start, "format": result.chosen_format}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--budget", type=int, default=120, help="metric calls for each arm")
    args = parser.parse_args()
    task, registry = load_task("sentiment"), load_registry()
    arms = {"smolopt optimize (format search, few-shot injection)": smolopt_arm(task, registry, args.budget)}
    print("smolopt arm done", flush=True)
    arms["stock dspy.GEPA (ChatAdapter, default proposer, student reflects)"] = stock_gepa(task, registry, args.budget)
    rows = [
        [name, with_interval(a["before"]), with_interval(a["after"]), paired_change(a["before"], a["after"]),
         pct(a["after"].parse_rate), a.get("format", "chat (ChatAdapter)"), str(a["metric_calls"]), str(a["lm_calls"]), f"{a['wall_s']:.0f}"]
        for name, a in arms.items()
    ]
    body = "\n".join([
        "## Optimize: smolopt vs stock dspy.GEPA (sentiment, SmolLM2-135M embedded)",
        "",
        preamble() + f"- budget: {args.budget} metric calls per arm; test split ({len(task.split('test'))} examples) with 95% bootstrap "
        "intervals, the change's paired; no hosted model",
        "",
        markdown_table(["arm", "test before", "test after", "change [paired 95% CI]", "parse rate after", "format after", "metric calls",
                        "LM calls", "wall s (incl. test evals)"], rows),
    ])
    write_section("bench_optimize", body)
    print(body)


if __name__ == "__main__":
    main()
