"""The embedded model path under load: thread settings beside a busy neighbour, requests at once
over two replicas, and requests per scored answer, side by side in one run.

    python scripts/bench_server.py                  # 48 sentiment test examples, 'completion score calibrated'
    python scripts/bench_server.py --examples 96

1. Threads: one eval with the thread settings smolopt used before (2 generation threads, llama-cpp-
   python's default of one prompt thread per core) and with today's defaults, each quiet and beside
   a CPU-bound and a memory-bound neighbour (busy loops started here, unniced, like a laptop's).
2. Requests at once: the same eval against two embedded replicas, one request at a time and
   `parallel = 2`; the answers must be the same, example by example.
3. Requests per scored answer, uncalibrated (the calibration batch is 12 requests per prompt,
   counted apart), now and as smolopt asked before, measured on the same prompts here: every first
   token that several labels share followed with another request, and the first request sent
   without the end-of-text field (one that comes back empty was sent a second time).

Every call slower than 10 times its run's median is listed with the load average when it ended,
so a slow episode (like one measured at 12 times the quiet time) can be explained when it comes back.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmd import preamble, write_section  # noqa: E402

from smolopt.adapters.scoring import label_logprobs  # noqa: E402
from smolopt.backends import CallLog, LocalClient, Models  # noqa: E402
from smolopt.backends.embedded import default_threads  # noqa: E402
from smolopt.candidate import apply_candidate, format_key, seed_candidate  # noqa: E402
from smolopt.evaluation import EvalResult, evaluate  # noqa: E402
from smolopt.registry import load_registry  # noqa: E402
from smolopt.report import markdown_table, pct  # noqa: E402
from smolopt.tasks import load_task  # noqa: E402

SHIPPED = load_registry(Path(__file__).resolve().parent.parent / "models.toml").get("smollm2-135m")
NEIGHBOURS = {
    "quiet": None,
    "CPU-bound neighbour": "while True: pass",
    "memory-bound neighbour": "import numpy as np\na = np.ones(2**23); b = np.empty_like(a)\nwhile True: np.copyto(b, a)",
}
OLD_THREADS = (2, os.cpu_count() or 1)  # min(cores, 4) generation threads; llama-cpp-python's prompt-thread default


class LoadSampler:
    """The 1-minute load average every quarter second while a run lasts."""

    def __init__(self):
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.25):
            self.samples.append((time.time(), os.getloadavg()[0]))

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def at(self, moment: float) -> float:
        return min(self.samples, key=lambda sample: abs(sample[0] - moment))[1] if self.samples else os.getloadavg()[0]


def registry_file(folder: Path, **entry) -> Path:
    """models.toml with one entry "bench": the shipped SmolLM2-135M entry, one server, and `entry`."""
    settings = {**SHIPPED.model_dump(mode="json", exclude={"name"}, exclude_none=True), "replicas": 1, **entry}
    lines = [f'{key} = {json.dumps(value)}' for key, value in settings.items()]
    path = folder / f"bench-{len(list(folder.glob('*.toml')))}.toml"
    path.write_text("[models.bench]\n" + "\n".join(lines) + "\n")
    return path


def run(folder: Path, fmt: str, examples: int, neighbour: str | None = None, **entry) -> dict:
    """One eval of sentiment test in `fmt` against a fresh "bench" entry: numbers, calls, slow calls."""
    task = load_task("sentiment")
    program = task.program()
    program = apply_candidate(program, {**seed_candidate(program), **{format_key(p): fmt for p, _ in program.named_predictors()}})
    log_path = folder / f"calls-{time.time_ns()}.jsonl"
    busy = subprocess.Popen([sys.executable, "-c", neighbour]) if neighbour else None
    try:
        with Models(load_registry(registry_file(folder, **entry)), log=CallLog(log_path)) as models:
            lm = models.lm("bench")
            with LoadSampler() as load:
                start = time.perf_counter()
                result = evaluate(task, program, task.split("test")[:examples], lm, split="test")
                wall = time.perf_counter() - start
            others = other_processes()
            calls = [json.loads(line) for line in log_path.read_text().splitlines()]
            before = requests_before(lm.text_model, calls, task.labels) if fmt == "completion score" else None
    finally:
        if busy:
            busy.kill()
            busy.wait()
    median = statistics.median(c["latency_s"] for c in calls)
    slow = [f"{c['latency_s']:.2f} s (load {load.at(c['time']):.1f})" for c in calls if c["latency_s"] > 10 * median]
    return {"result": result, "wall": wall, "calls": calls, "median": median, "slow": slow, "before": before, "others": others,
            "load": max((sample for _, sample in load.samples), default=0.0)}


def requests_before(client: LocalClient, calls: list[dict], labels: tuple[str, ...]) -> tuple[int, int]:
    """For the answers' first requests in `calls`, as smolopt asked before: (continuations it sent
    after shared first tokens, first requests that came back empty without the end-of-text field
    and were sent again)."""
    walked = empty = 0
    for call in calls:
        body, prompt = dict(call["request"]), call["request"].get("prompt", "")
        if not prompt.endswith(":"):
            continue  # a continuation after a shared first token, not an answer's first request
        asked: list[str] = []

        def ask(prefix: str, prompt: str = prompt) -> dict[str, float] | None:
            asked.append(prefix)
            return client.next_token_logprobs(prompt + prefix)
        label_logprobs(ask, labels)  # every shared first token followed, as before
        walked += len(asked) - 1
        body.pop("min_tokens", None)
        empty += not httpx.post(f"{client.replicas.urls[0]}/completions", json=body, timeout=60).json()["choices"][0]["text"]
    return walked, empty


def same_answers(a: EvalResult, b: EvalResult) -> bool:
    return [(e.id, e.predicted, e.score) for e in a.examples] == [(e.id, e.predicted, e.score) for e in b.examples]


def other_processes() -> str:
    """What else is using the CPU now (this script, its servers and its neighbours aside)."""
    table = subprocess.run(["ps", "-eo", "pid,ppid,pcpu,rss,args", "--sort=-pcpu"], capture_output=True, text=True).stdout.splitlines()[1:]
    mine = {os.getpid(), os.getppid()}
    rows = []
    for line in table:
        pid, ppid, cpu, rss, args = line.split(None, 4)
        if int(pid) in mine or int(ppid) in mine or float(cpu) < 5.0:
            continue
        rows.append(f"{args[:70]} ({cpu}% CPU, {int(rss) // 1024} MB)")
    return "; ".join(rows[:4]) or "nothing above 5% CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=48, help="sentiment test examples per eval (default 48 of 96)")
    args = parser.parse_args()
    before = other_processes()
    folder = Path(tempfile.mkdtemp(prefix="bench-server-"))
    calibrated = "completion score calibrated"
    new_threads = default_threads(load_registry(registry_file(folder)).get("bench"))
    print(f"threads before {OLD_THREADS}, now {new_threads}; also running: {before}", flush=True)

    thread_rows, quiet = [], {}
    for setting, (threads, batch) in (("before", OLD_THREADS), ("now", new_threads)):
        for name, neighbour in NEIGHBOURS.items():
            measured = run(folder, calibrated, args.examples, neighbour, threads=threads, batch_threads=batch)
            quiet.setdefault(setting, measured["wall"])
            thread_rows.append([f"{setting}: {threads} + {batch} for the prompt", name, f"{measured['wall']:.1f} s",
                                f"{measured['wall'] / quiet[setting]:.2f}×", f"{measured['median'] * 1000:.0f} ms",
                                pct(measured["result"].accuracy), f"{measured['load']:.1f}", "; ".join(measured["slow"]) or "none",
                                measured["others"]])
            print(" | ".join(thread_rows[-1]), flush=True)

    sequential = run(folder, calibrated, args.examples, replicas=2, parallel=1)
    concurrent = run(folder, calibrated, args.examples, replicas=2, parallel=2)
    one_server = run(folder, calibrated, args.examples, parallel=2)
    ratio = sequential["wall"] / concurrent["wall"]
    parallel_rows = [
        ["2 replicas, 1 request at a time", f"{sequential['wall']:.1f} s", "1.00×", pct(sequential["result"].accuracy), "—"],
        ["2 replicas, parallel = 2", f"{concurrent['wall']:.1f} s", f"{ratio:.2f}×", pct(concurrent["result"].accuracy),
         "yes" if same_answers(sequential["result"], concurrent["result"]) else "NO"],
        ["1 server, parallel = 2", f"{one_server['wall']:.1f} s", f"{sequential['wall'] / one_server['wall']:.2f}×",
         pct(one_server["result"].accuracy), "yes" if same_answers(sequential["result"], one_server["result"]) else "NO"],
    ]
    for row in parallel_rows:
        print(" | ".join(row), flush=True)

    scored = run(folder, "completion score", args.examples)
    n = scored["result"].n
    now = len(scored["calls"]) / n
    first = sum(1 for c in scored["calls"] if c["request"]["prompt"].endswith(":"))
    walked, empty = scored["before"]
    continued_now = len(scored["calls"]) - first
    calls_rows = [["before: every shared first token followed; end-of-text asked again", f"{(first + walked + empty) / n:.2f}", str(walked), str(empty)],
                  ["now: only where it can change the answer; end-of-text forbidden at once", f"{now:.2f}", str(continued_now), "0"]]
    print(calls_rows, flush=True)

    target = "met" if max(float(r[3].rstrip("×")) for r in thread_rows if r[0].startswith("now") and r[1] == "CPU-bound neighbour") <= 2.2 else "missed"
    body = "\n".join([
        "## Server: threads, a busy neighbour, requests at once, requests per answer (SmolLM2-135M embedded)",
        "",
        preamble() + f"- sentiment test, first {args.examples} examples, `{calibrated}` unless said; each eval against freshly "
        f"started servers (start not timed), no call cache\n- also running when it started: {before}\n"
        f"- targets: beside a CPU-bound neighbour within 2.2× of quiet ({target}); parallel over two replicas at least 1.6× "
        f"({'met' if ratio >= 1.6 else 'missed'}: {ratio:.2f}×); 1.00 requests per scored answer ({'met' if now <= 1.0 else f'missed: {now:.2f}'})\n",
        "### Threads beside a neighbour",
        "",
        markdown_table(["threads (generation + prompt)", "beside", "eval", "vs quiet", "median call", "accuracy", "peak load",
                        "calls over 10× median", "also running at its end"], thread_rows),
        "",
        "### Requests at once",
        "",
        markdown_table(["servers", "eval", "throughput vs 1 at a time", "accuracy", "same answers"], parallel_rows),
        "",
        "### Requests per scored answer (`completion score`, no calibration)",
        "",
        markdown_table(["how", "requests / answer", "continuations after a shared first token", "answers repeated for end-of-text"],
                       calls_rows),
        "",
        f"Answers ({n}): {pct(scored['result'].accuracy)} accurate now. A continuation splits a first token several labels "
        "share (' N' for ' Negative' and ' Neutral'); it is sent now only when that split could change the winning label.",
    ])
    write_section("bench_server", body)
    print(body)


if __name__ == "__main__":
    main()
