"""Weights vs prompts on the embedded SmolLM2-135M: what a LoRA tune buys, what it costs, one task at a time.

    python scripts/bench_tune.py                          # tune sentiment and agent_monitor; optimize --weights on sentiment
    python scripts/bench_tune.py --task sentiment --optimize none
    python scripts/bench_tune.py --task multihop_qa --optimize none   # a section of its own: bench_tune multihop_qa
    python scripts/bench_tune.py --task story --optimize none --epochs 3   # bench_tune story: each metric part, base vs tuned

Per task, one after the other (never two heavy processes at once):
  1. `smolopt tune TASK`: the seed program in its best format on base and on tuned weights (test,
     paired interval), tuning seconds and peak memory of the tuning process, median seconds per
     call with and without the adapter (the two arms run back to back against the same server build);
     a metric made of parts (story: word range, similarity, the judge's four) gets each part base vs
     tuned with its interval and the paired change, the parts left out named with why, and the
     tokens and seconds per example of each arm;
  2. `smolopt optimize TASK --weights lora`: seed / prompt / weights / both on test with intervals.
Targets (issue 18): sentiment >= 90% and agent monitor >= 60% on test with weights; tuning sentiment
<= 5 min and <= 3 GB, agent monitor <= 10 min and <= 6 GB; serving with the adapter within 15% of the
base model's latency. Issue 28: multihop_qa tuned on the steps its data gives, at least 15 points
over base on the task's score (0.3 exact match + 0.7 token F1; its "accuracy" is that mean score);
story tuned on its references (tasks/story/references.jsonl), each part before and after.

Bounds for a cheap run: `--epochs N` is handed to `smolopt tune` (val still picks the best of
them); `--limit N` runs every command on a copy of the task whose test split keeps its first N
examples (train and val whole), and the section says so.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmd import preamble, write_section  # noqa: E402

from smolopt.jsonl import read_jsonl  # noqa: E402
from smolopt.report import markdown_table, pct  # noqa: E402
from smolopt.stats import bootstrap_interval, paired_difference_interval  # noqa: E402
from smolopt.tune.arms import evaluation_key  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TUNE_HEADERS = ["task", "base [95% CI]", "tuned [95% CI]", "change, points [paired 95% CI]", "chosen epoch (val)", "tuning s",
                "peak memory MB", "median s/example base", "median s/example tuned", "latency ratio"]
ARM_HEADERS = ["task", "arm", "prompt", "weights", "test [95% CI]", "change vs seed [paired 95% CI]", "tokens/call", "median s/example"]
PART_HEADERS = ["task", "part", "examples measured (base / tuned)", "base [95% CI]", "tuned [95% CI]", "change [paired 95% CI]"]
COST_HEADERS = ["task", "arm", "examples", "prompt tokens/example", "completion tokens/example", "median s/example", "s for the split"]
# The line smolopt.metrics.parts.combine ends a composite metric's feedback with, and its entries:
# "Not measured: judge (no judge was opened for this run)." A part left out has no number in
# `components`, so its name and reason are only in this line.
NOT_MEASURED = re.compile(r"^Not measured: (.*)\.$", re.MULTILINE)
LEFT_OUT = re.compile(r"(.+?) \((.*?)\)(?:; |$)")


def smolopt(workdir: Path, *args: str) -> tuple[dict, float]:
    """Run the real command; returns its results.json and wall seconds."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "smolopt.cli", "--registry", str(ROOT / "models.toml"), *args, "--quiet"],
                          cwd=workdir, capture_output=True, text=True, env={**os.environ, "SMOLOPT_TASKS": str(ROOT / "tasks")})
    if done.returncode != 0:
        raise SystemExit(f"smolopt {' '.join(args)} failed: {done.stderr.strip()}")
    run = Path(done.stdout.strip().splitlines()[-1].removeprefix("run saved to ").split(" (")[0])
    return json.loads((workdir / run / "results.json").read_text()), time.perf_counter() - started


def first_test_examples(task: str, limit: int, into: Path) -> tuple[Path, int]:
    """A copy of tasks/TASK (same folder name, so runs still name the task) whose test split keeps its
    first `limit` examples, train and val whole; returns the folder and the test split's full size."""
    folder = into / task
    shutil.copytree(ROOT / "tasks" / task, folder, ignore=shutil.ignore_patterns("__pycache__"))
    rows = read_jsonl(folder / "data.jsonl")
    test = [row for row in rows if row["split"] == "test"]
    kept = [row for row in rows if row["split"] != "test"] + test[:limit]
    (folder / "data.jsonl").write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in kept), encoding="utf-8")
    return folder, len(test)


def interval(row: dict, key: str = "interval") -> str:
    return f"[{pct(row[key][0])}, {pct(row[key][1])}]"


def points(row: dict) -> str:
    low, high = row["change_interval"]
    return f"{100 * row['change']:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}]"


def arm_examples(results: dict, arm: str) -> dict[str, dict]:
    """One arm's test examples in a tune's results.json (smolopt.tune.arms), by id."""
    return {example["id"]: example for example in results[evaluation_key(arm)]["examples"]}


def left_out(examples: Iterable[dict]) -> dict[str, str]:
    """The parts a composite metric left out of some example, with why (the first reason given)."""
    found: dict[str, str] = {}
    for example in examples:
        for line in NOT_MEASURED.findall(example["feedback"]):
            for name, why in LEFT_OUT.findall(line):
                found.setdefault(name, why)
    return found


def mean_cell(values: list[float]) -> str:
    low, high = bootstrap_interval(values)
    return f"{statistics.mean(values):.3f} [{low:.3f}, {high:.3f}]"


def part_row(task: str, name: str, base: dict[str, dict], tuned: dict[str, dict], value: Callable[[dict], float | None]) -> list[str]:
    """One part, base vs tuned: each arm's mean over the examples it measured, and the paired change
    over the examples both measured (the same ideas, so most of the noise between arms cancels)."""
    before = {key: v for key, example in base.items() if (v := value(example)) is not None}
    after = {key: v for key, example in tuned.items() if (v := value(example)) is not None}
    both = [key for key in before if key in after]
    change = "-"
    if both:
        diffs = [after[key] - before[key] for key in both]
        low, high = paired_difference_interval([before[key] for key in both], [after[key] for key in both])
        change = f"{statistics.mean(diffs):+.3f} [{low:+.3f}, {high:+.3f}]"
    return [task, name, f"{len(before)} / {len(after)}", mean_cell(list(before.values())) if before else "not measured",
            mean_cell(list(after.values())) if after else "not measured", change]


def part_rows(task: str, results: dict) -> list[list[str]]:
    """The task's score and each part of its metric on test, base vs tuned (smolopt.metrics.parts), then
    a row for each part neither arm measured, saying why; [] for a metric without parts (sentiment's)."""
    base, tuned = arm_examples(results, "base"), arm_examples(results, "tuned")
    measured = list(dict.fromkeys(name for arm in (base, tuned) for example in arm.values() for name in example["components"]))
    if not measured:
        return []
    rows = [part_row(task, "score (the metric's weighted mean)", base, tuned, lambda example: example["score"])]
    rows += [part_row(task, name, base, tuned, lambda example, name=name: example["components"].get(name)) for name in measured]
    unmeasured = left_out([*base.values(), *tuned.values()])
    rows += [[task, name, "0 / 0", f"not measured: {why}", f"not measured: {why}", "-"] for name, why in unmeasured.items() if name not in measured]
    return rows


def cost_rows(task: str, results: dict) -> list[list[str]]:
    """Tokens and seconds per example of each arm (a story's whole generation is one example)."""
    rows = []
    for row in results["arms"]:
        examples = list(arm_examples(results, row["arm"]).values())
        n = len(examples)
        rows.append([task, row["arm"], str(n), f"{sum(e['prompt_tokens'] for e in examples) / n:.0f}",
                     f"{sum(e['completion_tokens'] for e in examples) / n:.0f}", f"{row['median_latency_s']:.2f}",
                     f"{sum(e['latency_s'] for e in examples):.0f}"])
    return rows


def write(section: str, tables: dict[str, list[list[str]]], walls: list[str], bounds: list[str]) -> None:
    """The section as far as it got: each finished task is written at once, so a cut-off run keeps it."""
    shown = [
        ("### `smolopt tune`: the seed program in its best format, base vs tuned weights (test split)", TUNE_HEADERS, tables["tune"]),
        ("### `smolopt tune`: each part of the metric, base vs tuned weights (test split; parts score 0 to 1)", PART_HEADERS, tables["parts"]),
        ("### `smolopt tune`: tokens and seconds per example, base vs tuned weights (test split)", COST_HEADERS, tables["cost"]),
        ("### `smolopt optimize --weights lora`: seed / prompt / weights / both (test split)", ARM_HEADERS, tables["arms"]),
    ]
    body = "\n".join([
        f"## Weights vs prompts ({section})", "", preamble(),
        "- models: the embedded SmolLM2-135M Q4_1; LoRA r16 on every linear layer, loss on the answer tokens, 2 threads",
        "- also running: nothing heavy (every model, training and benchmark job on this machine took one lock, one at a time)",
        "- targets (issue 18): sentiment >= 90% and agent monitor >= 60% on test with weights; tuning sentiment <= 5 min and <= 3 GB, "
        "agent monitor <= 10 min and <= 6 GB; the adapter within 15% of the base model's latency",
        *bounds,
        "- wall time: " + "; ".join(walls), "",
        *(line for title, headers, rows in shown if rows for line in (title, "", markdown_table(headers, rows), "")),
    ])
    write_section(section, body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", action="append", help="default: sentiment and agent_monitor")
    parser.add_argument("--optimize", action="append", help="tasks to run `optimize --weights lora` on too (default: sentiment; 'none')")
    parser.add_argument("--epochs", type=int, default=None, help="most epochs for `smolopt tune` (default: tune's own, 8; val picks the best)")
    parser.add_argument("--limit", type=int, default=None, help="evaluate only the first N examples of each task's test split (a copy of the task)")
    args = parser.parse_args()
    for flag, value in (("--epochs", args.epochs), ("--limit", args.limit)):
        if value is not None and value < 1:
            raise SystemExit(f"{flag} must be 1 or more, not {value}")
    tasks = args.task or ["sentiment", "agent_monitor"]
    section = "bench_tune" if args.task is None else "bench_tune " + " ".join(tasks)  # another task set keeps the default's section
    tables: dict[str, list[list[str]]] = {"tune": [], "parts": [], "cost": [], "arms": []}
    walls, bounds = [], []
    if args.epochs:
        bounds.append(f"- bounded: `smolopt tune --epochs {args.epochs}` (val picks the best of at most {args.epochs} epochs; tune's default is 8)")
    with tempfile.TemporaryDirectory() as tmp:
        for task in tasks:
            ref = task
            if args.limit:
                folder, size = first_test_examples(task, args.limit, Path(tmp) / "tasks")
                ref = str(folder)
                bounds.append(f"- bounded: {task}'s test split cut to its first {min(args.limit, size)} of {size} examples (`--limit {args.limit}`), "
                              "so its intervals are wider than the whole split's; train and val whole")
            tune_args = ["--epochs", str(args.epochs)] if args.epochs else []
            results, wall = smolopt(Path(tmp), "tune", ref, *tune_args)
            base, tuned = results["arms"]
            ratio = tuned["median_latency_s"] / base["median_latency_s"] if base["median_latency_s"] else float("nan")
            tables["tune"].append([task, f"{pct(base['accuracy'])} {interval(base)}", f"{pct(tuned['accuracy'])} {interval(tuned)}", points(tuned),
                                   str(results["best_epoch"]), f"{results['tune_seconds']:.0f}", f"{results['peak_memory_mb']:.0f}",
                                   f"{base['median_latency_s']:.3f}", f"{tuned['median_latency_s']:.3f}", f"{ratio:.2f}"])
            if parts := part_rows(task, results):
                tables["parts"] += parts
                tables["cost"] += cost_rows(task, results)
            walls.append(f"`smolopt tune {task}{''.join(' ' + a for a in tune_args)}` {wall:.0f} s")
            for row in [tables["tune"][-1], *parts]:
                print(" | ".join(row), flush=True)
            write(section, tables, walls, bounds)
            if task not in (args.optimize or ["sentiment"]):
                continue
            results, wall = smolopt(Path(tmp), "optimize", ref, "--weights", "lora")
            for row in results["weights"]["arms"]:
                tables["arms"].append([task, row["arm"], row["program"], "adapter" if row["adapter"] else "base",
                                       f"{pct(row['accuracy'])} {interval(row)}", points(row), f"{row['prompt_tokens_per_call']:.0f}",
                                       f"{row['median_latency_s']:.3f}"])
                print(" | ".join(tables["arms"][-1]), flush=True)
            tables["arms"].append([task, "shipped", results["weights"]["ship_note"], "", "", "", "", ""])
            walls.append(f"`smolopt optimize {task} --weights lora` {wall:.0f} s")
            write(section, tables, walls, bounds)


if __name__ == "__main__":
    main()
