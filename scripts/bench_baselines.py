"""Baselines of the embedded SmolLM2-135M on every task's test split (what `smolopt eval TASK` prints).

    python scripts/bench_baselines.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmd import preamble, write_section  # noqa: E402

from smolopt.backends import Models  # noqa: E402
from smolopt.evaluation import evaluate  # noqa: E402
from smolopt.registry import load_registry  # noqa: E402
from smolopt.report import distribution, markdown_table, pct  # noqa: E402
from smolopt.stats import bootstrap_interval  # noqa: E402
from smolopt.tasks import available_tasks, load_task  # noqa: E402


def main() -> None:
    rows = []
    with Models(load_registry()) as models:
        lm = models.lm(None)
        for name in available_tasks():
            task = load_task(name)
            result = evaluate(task, task.program(), task.split("test"), lm, split="test")
            low, high = bootstrap_interval([e.score for e in result.examples])
            rows.append([name, str(result.n), f"{pct(result.accuracy)} [{pct(low)}, {pct(high)}]", pct(result.parse_rate),
                         pct(result.echo_rate), distribution(result), f"{result.per_call('prompt_tokens'):.0f}",
                         f"{result.calls_per_example:.1f}", f"{result.median_latency_s:.2f}"])
            print(rows[-1], flush=True)
    body = "\n".join([
        "## Baselines: SmolLM2-135M (embedded) on each task's test split",
        "",
        preamble() + "- the unoptimized program of each task through RawTextAdapter (`smolopt eval TASK`); 95% bootstrap intervals",
        "",
        markdown_table(["task", "n", "score", "parse rate", "echo rate", "labels predicted (gold)", "prompt tokens / call",
                        "LM calls / example", "median s / example"], rows),
    ])
    write_section("bench_baselines", body)
    print(body)


if __name__ == "__main__":
    main()
