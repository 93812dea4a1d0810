"""Training steps with a shared prompt prefix run once, against each row run whole (issue 29: long demos paid once).

    python scripts/bench_prefix.py [--rounds 3] [--prefix-tokens 1400] [--own-tokens 400]

The embedded SmolLM2-135M (its dequantized weights, as a tune loads them), LoRA r16 on every linear
layer, gradient checkpointing on (as for agent monitoring's rows, which pass 512 tokens): one batch
of eight rows shaped as agent monitoring's in-prompt rows (a shared instruction-and-demos prefix,
then each row's own trace and a one-token label), one optimizer step (`smolopt.tune.train._step`)
with the prefix shared and the same step with every row whole, alternated `--rounds` times in this
one process, so both see the same machine. Writes the section `bench_prefix` of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_server import other_processes  # noqa: E402
from benchmd import preamble, write_section  # noqa: E402

from smolopt.registry import load_registry  # noqa: E402
from smolopt.backends.weights import resolve_gguf  # noqa: E402
from smolopt.report import markdown_table  # noqa: E402
from smolopt.tune import train  # noqa: E402
from smolopt.tune.base import load_base  # noqa: E402
from smolopt.tune.method import method_named  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ROWS = 8


def rows(base, prefix_tokens: int, own_tokens: int, seed: int = 0) -> list[tuple[list[int], list[int]]]:
    """Eight rows: one shared prefix of real text, then each row's own text, then a one-token label."""
    text = (ROOT / "scripts" / "data" / "agent_traces_apart.jsonl").read_text(encoding="utf-8")
    ids = base.prompt_ids(text * 4)
    rng = random.Random(seed)
    prefix = ids[:prefix_tokens]
    made = []
    for _ in range(ROWS):
        start = rng.randrange(prefix_tokens, len(ids) - own_tokens)
        own = ids[start:start + own_tokens]
        label = [ids[start + own_tokens]]
        made.append((prefix + own + label, [train.IGNORE] * (prefix_tokens + own_tokens) + label))
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--prefix-tokens", type=int, default=1400)
    parser.add_argument("--own-tokens", type=int, default=400)
    args = parser.parse_args()
    import torch

    started_beside = other_processes()
    spec = load_registry(ROOT / "models.toml").get("smollm2-135m")
    base = load_base(resolve_gguf(spec), threads=2)
    settings = train.Settings()
    model = method_named(settings.method).attach(base.model, settings)
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.enable_input_require_grads()
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.0)  # lr 0: every step sees the same weights
    batch = rows(base, args.prefix_tokens, args.own_tokens)
    shared_budget, _ = train._shared_budgets(model, checkpointing=True)
    seconds: dict[str, list[float]] = {"shared": [], "whole": []}
    losses: dict[str, float] = {}
    for _ in range(args.rounds):
        for name, budget in (("whole", 0), ("shared", shared_budget)):
            start = time.perf_counter()
            losses[name] = train._step(model, batch, base.pad_id, optimizer, budget)
            seconds[name].append(time.perf_counter() - start)
    shared, whole = statistics.median(seconds["shared"]), statistics.median(seconds["whole"])
    table = markdown_table(["rows run", "median s per step", "steps", "loss"],
                           [["each row whole (before)", f"{whole:.1f}", str(args.rounds), f"{losses['whole']:.4f}"],
                            ["prefix once, rows after it (now)", f"{shared:.1f}", str(args.rounds), f"{losses['shared']:.4f}"]])
    body = "\n".join([
        "## Training with a shared prefix: one step on agent-monitoring-shaped rows (bench_prefix)", "",
        preamble().rstrip("\n"),
        f"- rows: {ROWS} rows of a {args.prefix_tokens}-token shared prefix + {args.own_tokens} tokens of their own + a one-token label "
        "(agent monitoring's in-prompt rows: instruction and four demo traces, then the trace); SmolLM2-135M, LoRA r16, "
        "gradient checkpointing, 2 threads; the two ways alternated in one process",
        f"- also running when it started: {started_beside}; at its end: {other_processes()}",
        f"- ratio: the shared step takes {shared / whole:.2f}× the time of the whole-rows step", "", table])
    write_section("bench_prefix", body)
    print(body)


if __name__ == "__main__":
    main()
