"""Weights vs prompts on the embedded SmolLM2-135M: what a LoRA tune buys, what it costs, one task at a time.

    python scripts/bench_tune.py                          # tune sentiment and agent_monitor; optimize --weights on sentiment
    python scripts/bench_tune.py --task sentiment --optimize none
    python scripts/bench_tune.py --task multihop_qa --optimize none   # a section of its own: bench_tune multihop_qa

Per task, one after the other (never two heavy processes at once):
  1. `smolopt tune TASK`: the seed program in its best format on base and on tuned weights (test,
     paired interval), tuning seconds and peak memory of the tuning process, median seconds per
     call with and without the adapter (the two arms run back to back against the same server build);
  2. `smolopt optimize TASK --weights lora`: seed / prompt / weights / both on test with intervals.
Targets (issue 18): sentiment >= 90% and agent monitor >= 60% on test with weights; tuning sentiment
<= 5 min and <= 3 GB, agent monitor <= 10 min and <= 6 GB; serving with the adapter within 15% of the
base model's latency. Issue 28: multihop_qa tuned on the steps its data gives, at least 15 points
over base on the task's score (0.3 exact match + 0.7 token F1; its "accuracy" is that mean score).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmd import preamble, write_section  # noqa: E402

from smolopt.report import markdown_table, pct  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TUNE_HEADERS = ["task", "base [95% CI]", "tuned [95% CI]", "change, points [paired 95% CI]", "chosen epoch (val)", "tuning s",
                "peak memory MB", "median s/example base", "median s/example tuned", "latency ratio"]
ARM_HEADERS = ["task", "arm", "prompt", "weights", "test [95% CI]", "change vs seed [paired 95% CI]", "tokens/call", "median s/example"]


def smolopt(workdir: Path, *args: str) -> tuple[dict, float]:
    """Run the real command; returns its results.json and wall seconds."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "smolopt.cli", "--registry", str(ROOT / "models.toml"), *args, "--quiet"],
                          cwd=workdir, capture_output=True, text=True, env={**os.environ, "SMOLOPT_TASKS": str(ROOT / "tasks")})
    if done.returncode != 0:
        raise SystemExit(f"smolopt {' '.join(args)} failed: {done.stderr.strip()}")
    run = Path(done.stdout.strip().splitlines()[-1].removeprefix("run saved to ").split(" (")[0])
    return json.loads((workdir / run / "results.json").read_text()), time.perf_counter() - started


def interval(row: dict, key: str = "interval") -> str:
    return f"[{pct(row[key][0])}, {pct(row[key][1])}]"


def points(row: dict) -> str:
    low, high = row["change_interval"]
    return f"{100 * row['change']:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}]"


def write(section: str, tune_rows: list[list[str]], arm_rows: list[list[str]], walls: list[str]) -> None:
    """The section as far as it got: each finished task is written at once, so a cut-off run keeps it."""
    body = "\n".join([
        f"## Weights vs prompts ({section})", "", preamble(),
        "- models: the embedded SmolLM2-135M Q4_1; LoRA r16 on every linear layer, loss on the answer tokens, 2 threads",
        "- also running: nothing heavy (every model, training and benchmark job on this machine took one lock, one at a time)",
        "- targets (issue 18): sentiment >= 90% and agent monitor >= 60% on test with weights; tuning sentiment <= 5 min and <= 3 GB, "
        "agent monitor <= 10 min and <= 6 GB; the adapter within 15% of the base model's latency",
        "- wall time: " + "; ".join(walls), "",
        "### `smolopt tune`: the seed program in its best format, base vs tuned weights (test split)", "",
        markdown_table(TUNE_HEADERS, tune_rows), "",
        *(["### `smolopt optimize --weights lora`: seed / prompt / weights / both (test split)", "", markdown_table(ARM_HEADERS, arm_rows), ""]
          if arm_rows else []),
    ])
    write_section(section, body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", action="append", help="default: sentiment and agent_monitor")
    parser.add_argument("--optimize", action="append", help="tasks to run `optimize --weights lora` on too (default: sentiment; 'none')")
    args = parser.parse_args()
    tasks = args.task or ["sentiment", "agent_monitor"]
    section = "bench_tune" if args.task is None else "bench_tune " + " ".join(tasks)  # another task set keeps the default's section
    tune_rows, arm_rows, walls = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for task in tasks:
            results, wall = smolopt(Path(tmp), "tune", task)
            base, tuned = results["arms"]
            ratio = tuned["median_latency_s"] / base["median_latency_s"] if base["median_latency_s"] else float("nan")
            tune_rows.append([task, f"{pct(base['accuracy'])} {interval(base)}", f"{pct(tuned['accuracy'])} {interval(tuned)}", points(tuned),
                              str(results["best_epoch"]), f"{results['tune_seconds']:.0f}", f"{results['peak_memory_mb']:.0f}",
                              f"{base['median_latency_s']:.3f}", f"{tuned['median_latency_s']:.3f}", f"{ratio:.2f}"])
            walls.append(f"`smolopt tune {task}` {wall:.0f} s")
            print(" | ".join(tune_rows[-1]), flush=True)
            write(section, tune_rows, arm_rows, walls)
            if task not in (args.optimize or ["sentiment"]):
                continue
            results, wall = smolopt(Path(tmp), "optimize", task, "--weights", "lora")
            for row in results["weights"]["arms"]:
                arm_rows.append([task, row["arm"], row["program"], "adapter" if row["adapter"] else "base",
                                 f"{pct(row['accuracy'])} {interval(row)}", points(row), f"{row['prompt_tokens_per_call']:.0f}",
                                 f"{row['median_latency_s']:.3f}"])
                print(" | ".join(arm_rows[-1]), flush=True)
            arm_rows.append([task, "shipped", results["weights"]["ship_note"], "", "", "", "", ""])
            walls.append(f"`smolopt optimize {task} --weights lora` {wall:.0f} s")
            write(section, tune_rows, arm_rows, walls)


if __name__ == "__main__":
    main()
