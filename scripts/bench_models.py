"""The capacity map: every label task × each embedded model × the format axis, with the probe's verdict.

    python scripts/bench_models.py                                   # both embedded models, test splits, no demos
    python scripts/bench_models.py --demos 0 3 --probe-task sentiment --probe-task commonsense_mc
    python scripts/bench_models.py --model gemma3-270m --task sentiment --probe-task none

Which model, asked which way, does best on what. Every row of the detail table is one (task, model,
demos, format) on the test split with the task's own instruction and the first k label-balanced
training demos (scripts/bench_modes.py's cells); a format a model cannot be asked in (chat turns,
for a model without a chat template) is a row that says so. The probe (`smolopt probe`'s plan and
verdict on the first n val examples) says per model and task whether a better prompt could still
help (prompt problem) or no way of asking reached chance plus a margin (capacity problem).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_modes import CELLS, asked, cells  # noqa: E402
from benchmd import preamble, write_section  # noqa: E402

from smolopt.adapters.formats import ALL, seed_format  # noqa: E402
from smolopt.backends import Models  # noqa: E402
from smolopt.backends.weights import with_gguf_facts  # noqa: E402
from smolopt.evaluation import EvalResult  # noqa: E402
from smolopt.probe import DEFAULT_EXAMPLES, plan_probe, run_probe  # noqa: E402
from smolopt.registry import load_registry  # noqa: E402
from smolopt.report import kind_cell, markdown_table, pct  # noqa: E402
from smolopt.tasks import available_tasks, load_task  # noqa: E402

MODELS = ("smollm2-135m", "gemma3-270m")
DETAIL = ["task", "model", "demos", "format", *CELLS]
MAP = ["task", "model", "the seed's way", "best way", "best accuracy [95% CI]", "probe verdict"]
REFUSED = "refused: no chat template"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help=f"a registry entry (default: {', '.join(MODELS)})")
    parser.add_argument("--task", action="append", help="a label task (default: every label task)")
    parser.add_argument("--demos", type=int, nargs="+", default=[0])
    parser.add_argument("--split", default="test")
    parser.add_argument("--probe-task", action="append", help="probe each model on this task ('none': no probe; default: sentiment)")
    parser.add_argument("--probe-examples", type=int, default=DEFAULT_EXAMPLES)
    args = parser.parse_args()
    registry = load_registry()
    names = args.task or [name for name in available_tasks() if load_task(name).labels]
    probed = [name for name in (args.probe_task or ["sentiment"]) if name != "none"]
    detail, capacity, notices, walls = [], [], [], []
    load_before = os.getloadavg()
    for model in args.model or MODELS:
        start = time.perf_counter()
        spec = with_gguf_facts(registry.get(model))
        with Models(registry) as models:
            lm = models.lm(model)
            chats = lm.text_model.can("chat")
            for name in names:
                task = load_task(name)
                examples = task.split(args.split)
                results: dict[tuple[int, str], EvalResult] = {}
                for k in args.demos:
                    for fmt in ALL:
                        if fmt.mode == "chat" and not chats:
                            detail.append([name, model, str(k), str(fmt), REFUSED, *["-"] * (len(CELLS) - 1)])
                        else:
                            results[k, str(fmt)] = result = asked(task, lm, examples, k, fmt, args.split)
                            detail.append([name, model, str(k), str(fmt), *cells(result)])
                        print(" | ".join(detail[-1]), flush=True)
                seed = results[min(args.demos), str(seed_format(chats))]
                (k, way), best = max(results.items(), key=lambda item: item[1].accuracy)
                verdict = "-"
                if name in probed:
                    probe = run_probe(plan_probe(task, spec, args.probe_examples), lm)
                    verdict = f"{probe.verdict().label}: {probe.verdict().evidence}"
                capacity.append([name, f"{model} ({kind_cell(spec.variant, spec.chat_template)})",
                                 f"{seed_format(chats)}, {min(args.demos)} demos: {pct(seed.accuracy)}", f"{way}, {k} demos",
                                 cells(best)[0], verdict])
            notices += models.log.notices
        walls.append(f"{model} {(time.perf_counter() - start) / 60:.1f} min")
    load_after = os.getloadavg()
    body = "\n".join([
        "## Capacity map: every label task × model × format (embedded models)",
        "",
        preamble()
        + f"- split: {args.split}; the task's own instruction; demos: the first k label-balanced training examples ({', '.join(map(str, args.demos))})\n"
        + f"- probe: `smolopt probe`'s variants on the first {args.probe_examples} val examples, for {', '.join(probed) or 'no task'}\n"
        + f"- wall time: {', '.join(walls)}; load average (1 min) {load_before[0]:.1f} at the start, {load_after[0]:.1f} at the end "
          "(the machine is shared: other work may have run meanwhile)\n"
        + "".join(f"- notice: {text}\n" for text in dict.fromkeys(notices)),
        markdown_table(MAP, capacity),
        "",
        markdown_table(DETAIL, detail),
    ])
    write_section("bench_models", body)
    print(body)


if __name__ == "__main__":
    main()
