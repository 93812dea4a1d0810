"""Every label task × every format on the embedded SmolLM2-135M, side by side in one run.

    python scripts/bench_modes.py                 # test splits, 0 and 3 label-balanced demos
    python scripts/bench_modes.py --demos 0 --task sentiment

The format axis (chat / completion, generate / score, calibrated or not) with the task's own
instruction; demos are the first label-balanced training examples, the same for every format.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmd import preamble, write_section  # noqa: E402

import dspy  # noqa: E402

from smolopt.adapters.formats import ALL, Format  # noqa: E402
from smolopt.backends import Models  # noqa: E402
from smolopt.candidate import apply_candidate, format_key, seed_candidate  # noqa: E402
from smolopt.evaluation import EvalResult, evaluate  # noqa: E402
from smolopt.probe import balanced_demos, with_demos  # noqa: E402
from smolopt.registry import load_registry  # noqa: E402
from smolopt.report import distribution, markdown_table, pct  # noqa: E402
from smolopt.stats import bootstrap_interval  # noqa: E402
from smolopt.tasks import Task, available_tasks, load_task  # noqa: E402

# What one evaluation shows; scripts/bench_models.py reads the same cells per model.
CELLS = ["accuracy [95% CI]", "parse rate", "labels predicted (gold)", "labels before calibration",
         "LM calls / example", "prompt tokens / example", "median s / example"]
HEADERS = ["task", "demos", "format", *CELLS]


def asked(task: Task, lm: dspy.LM, examples: list[dspy.Example], k: int, fmt: Format, split: str) -> EvalResult:
    """The task's program with its first k label-balanced training demos, every predictor asked in `fmt`."""
    program = task.program()
    base = with_demos(seed_candidate(program), program, task, balanced_demos(task, k))
    candidate = {**base, **{format_key(p): str(fmt) for p, _ in program.named_predictors()}}
    return evaluate(task, apply_candidate(program, candidate), examples, lm, split=split)


def cells(result: EvalResult) -> list[str]:
    """One evaluation as CELLS."""
    low, high = bootstrap_interval([e.score for e in result.examples])
    before = result.uncalibrated_distribution()
    return [f"{pct(result.accuracy)} [{pct(low)}, {pct(high)}]", pct(result.parse_rate),
            distribution(result), distribution(result, before) if before else "-",
            f"{result.calls_per_example:.2f}", f"{sum(e.prompt_tokens for e in result.examples) / result.n:.0f}",
            f"{result.median_latency_s:.2f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", action="append", help="a label task (default: every label task)")
    parser.add_argument("--demos", type=int, nargs="+", default=[0, 3])
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    names = args.task or [name for name in available_tasks() if load_task(name).labels]
    rows = []
    with Models(load_registry()) as models:
        lm = models.lm(None)
        for name in names:
            task = load_task(name)
            examples = task.split(args.split)
            for k in args.demos:
                for fmt in ALL:
                    rows.append([name, str(k), str(fmt), *cells(asked(task, lm, examples, k, fmt, args.split))])
                    print(" | ".join(rows[-1]), flush=True)
    notices = "".join(f"- notice: {text}\n" for text in models.log.notices)
    body = "\n".join([
        "## Formats: every label task × format (SmolLM2-135M embedded)",
        "",
        preamble() + f"- split: {args.split}; the task's own instruction; demos: the first k label-balanced training examples\n" + notices,
        markdown_table(HEADERS, rows),
    ])
    write_section("bench_modes", body)
    print(body)


if __name__ == "__main__":
    main()
