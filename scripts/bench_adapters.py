"""RawTextAdapter against DSPy's ChatAdapter, JSONAdapter and XMLAdapter, side by side in one run.

The embedded SmolLM2-135M on the sentiment task: parse rate, accuracy, LM calls per example,
prompt tokens per call and median wall time per example, each adapter on the same examples and
the same server. Results go to BENCHMARKS.md.

    python scripts/bench_adapters.py [--split test|all]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import dspy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmd import preamble, write_section  # noqa: E402

from smolopt.adapters import RawTextAdapter  # noqa: E402
from smolopt.backends import Models  # noqa: E402
from smolopt.evaluation import evaluate  # noqa: E402
from smolopt.registry import load_registry  # noqa: E402
from smolopt.report import markdown_table, pct  # noqa: E402
from smolopt.tasks import load_task  # noqa: E402

ADAPTERS = {
    "RawTextAdapter": RawTextAdapter,
    "ChatAdapter (default, JSON fallback)": dspy.ChatAdapter,
    "JSONAdapter": dspy.JSONAdapter,
    "XMLAdapter": dspy.XMLAdapter,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split", default="test", choices=["train", "val", "test", "all"])
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    task = load_task("sentiment")
    examples = [e for s in ("train", "val", "test") for e in task.split(s)] if args.split == "all" else task.split(args.split)
    registry = load_registry()
    rows, results = [], {}
    with Models(registry) as models:
        lm = models.lm(args.model)
        for name, adapter_cls in ADAPTERS.items():
            result = evaluate(task, task.program(), examples, lm, split=args.split, adapter=adapter_cls())
            results[name] = result
            rows.append([
                name, pct(result.parse_rate), pct(result.accuracy), f"{result.calls_per_example:.2f}",
                f"{result.per_call('prompt_tokens'):.0f}", f"{result.median_latency_s:.2f}",
            ])
            print(name, rows[-1][1:], flush=True)
    raw, chat = results["RawTextAdapter"], results["ChatAdapter (default, JSON fallback)"]
    best_dspy = max(r.accuracy for n, r in results.items() if n != "RawTextAdapter")
    ratio = (
        f"- RawTextAdapter vs ChatAdapter: prompt tokens per call {raw.per_call('prompt_tokens') / chat.per_call('prompt_tokens'):.2f}×, "
        f"median wall time per example {chat.median_latency_s / raw.median_latency_s:.1f}× less; "
        f"accuracy {pct(raw.accuracy)} vs best DSPy adapter {pct(best_dspy)}."
    )
    body = "\n".join([
        "## Adapters: RawTextAdapter vs DSPy's adapters (sentiment, SmolLM2-135M embedded)",
        "",
        preamble() + f"- examples: {len(examples)} ({args.split} split), temperature 0, same server, one run",
        "",
        markdown_table(["adapter", "parse rate", "accuracy", "LM calls / example", "prompt tokens / call", "median s / example"], rows),
        "",
        ratio,
    ])
    write_section("bench_adapters", body)
    print(body)


if __name__ == "__main__":
    main()
