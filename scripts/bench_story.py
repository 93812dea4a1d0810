"""Writing on the embedded SmolLM2-135M: seconds and memory per story and per long story, and what
refinement (--refine) costs against an optimized prompt that needs no retries.

    python scripts/bench_story.py [--budget 120] [--refine 3] [--chapters 120]

No judge is reachable offline, so the story score is word range and similarity (the judge's parts
are left out, as the notices say); every run is a `smolopt eval` / `smolopt optimize` run on disk.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmd import preamble, write_section  # noqa: E402

from smolopt.api import Optimizer  # noqa: E402
from smolopt.backends import Models  # noqa: E402
from smolopt.evaluation.command import run_eval  # noqa: E402
from smolopt.evaluation import EvalResult, evaluate  # noqa: E402
from smolopt.metrics.structure import StructureFit, shuffled_sentences, text_structure  # noqa: E402
from smolopt.registry import load_registry  # noqa: E402
from smolopt.report import markdown_table  # noqa: E402
from smolopt.stats import bootstrap_interval  # noqa: E402
from smolopt.tasks import load_task  # noqa: E402


def peak_mib() -> tuple[float, float]:
    """Peak resident memory of this process (Python, torch, the embedding model) and of its finished
    children (the llama.cpp servers), in MiB."""
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def gapelmaper(fit: StructureFit) -> str:
    if not fit.measured:
        return "not measurable (too few points past the curve's peak)"
    return f"{fit.ratio:.2f} (power-law MAPE {fit.power_mape:.2f}, exponential {fit.exp_mape:.2f}, {fit.fit_points} points fitted)"


def row(name: str, result: EvalResult, wall_s: float) -> list[str]:
    low, high = bootstrap_interval([e.score for e in result.examples])
    parts = ", ".join(f"{k} {v:.2f}" for k, v in result.component_means().items())
    tokens = sum(e.prompt_tokens + e.completion_tokens for e in result.examples) / result.n
    return [name, str(result.n), f"{result.accuracy:.3f} [{low:.3f}, {high:.3f}]", parts, f"{result.calls_per_example:.2f}",
            f"{tokens:.0f}", f"{result.median_latency_s:.1f}", f"{wall_s:.0f}"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=int, default=120, help="metric calls for the optimized prompt (120: light on story's 12 val ideas)")
    parser.add_argument("--chapters", type=int, default=120, help="chapters of the one long 135M story that GAPELMAPER is measured on (120: about 11,500 words from the 135M; the metric needs book-length text)")
    parser.add_argument("--refine", type=int, default=3, help="generations per story for the refined baseline")
    args = parser.parse_args()
    rows = []

    start = time.perf_counter()
    baseline, _, notices = run_eval("story", split="test")
    rows.append(row("baseline prompt, 1 generation", baseline, time.perf_counter() - start))
    print(rows[-1], flush=True)

    start = time.perf_counter()
    refined, _, _ = run_eval("story", split="test", refine=args.refine)
    rows.append(row(f"baseline prompt, --refine {args.refine}", refined, time.perf_counter() - start))
    print(rows[-1], flush=True)

    start = time.perf_counter()
    optimizer = Optimizer(reflection=None, budget=args.budget)
    _, result = optimizer.run(load_task("story"))
    search_s = time.perf_counter() - start
    start = time.perf_counter()
    optimized, _, _ = run_eval("story", split="test", program_path=str(optimizer.run_dir / "program.json"))
    rows.append(row(f"optimized prompt ({args.budget} metric calls, {result.chosen_format}), 1 generation", optimized, time.perf_counter() - start))
    print(rows[-1], flush=True)
    story_peak = peak_mib()

    start = time.perf_counter()
    long, long_run, _ = run_eval("long_story", split="test")
    long_s = time.perf_counter() - start
    ratios = [e.components["gapelmaper"] for e in long.examples if "gapelmaper" in e.components]
    words = sorted(len((e.predicted or "").split()) for e in long.examples)

    # GAPELMAPER needs length: one premise told in many chapters gives the 135M's longest text.
    task = load_task("long_story")
    premise = task.split("test")[0]
    with Models(load_registry()) as models:
        longest = evaluate(task, task.program(), [premise.copy(chapters=args.chapters)], models.lm(None), split="test").examples[0]
    fit, control = text_structure(longest.predicted or ""), text_structure(shuffled_sentences(longest.predicted or ""))
    self_mib, server_mib = peak_mib()

    body = "\n".join([
        "## Writing: seconds, memory, and refinement against an optimized prompt (story, long_story)",
        "",
        preamble() + f"- judge: none reachable offline ({'; '.join(notices) or 'no notice'}); the story score is word range and similarity",
        f"- the optimized prompt: `smolopt optimize story --reflection none --judge none --budget {args.budget}` took {search_s:.0f} s "
        f"(run {optimizer.run_dir.name}); its test score is re-measured with `smolopt eval story --program …/program.json`",
        "",
        markdown_table(["story, test split", "n", "score [95% CI]", "parts (means)", "LM calls / story", "tokens / story",
                        "median s / story", "total s"], rows),
        "",
        f"- long_story (outline → chapter plans → chapters, `smolopt eval long_story`): {long.n} stories, "
        f"median {long.median_latency_s:.0f} s each ({long_s:.0f} s in all), {long.calls_per_example:.1f} LM calls each, "
        f"{words[len(words) // 2] if words else 0} words (median; {words[0] if words else 0}–{words[-1] if words else 0}); "
        f"GAPELMAPER measured on {len(ratios)}: " + (", ".join(f"{r:.2f}" for r in ratios) or "none") + f" (run {long_run.path.name})",
        f"- one long 135M story ({premise.id} told in {args.chapters} chapters): {fit.n_items} words in {longest.latency_s:.0f} s; "
        f"GAPELMAPER {gapelmaper(fit)}; its sentence-shuffled copy {gapelmaper(control)}",
        f"- peak memory: this process (Python, dspy, torch and all-MiniLM-L6-v2) {self_mib:.0f} MiB "
        f"(after the story runs {story_peak[0]:.0f} MiB); the llama.cpp server with the 135M {server_mib:.0f} MiB; "
        f"together at most {self_mib + server_mib:.0f} MiB",
    ])
    write_section("bench_story", body)
    print(body)


if __name__ == "__main__":
    main()
