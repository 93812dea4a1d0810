"""How long `smolopt view` takes to open a run of 1,000 examples (target: under a second).

    python scripts/bench_view.py [--examples 1000] [--repeats 7] [--source runs/<an eval run>]

The run is synthetic in size only: a real eval run (by default a fresh `smolopt eval sentiment
--split val` on the embedded model, which needs the model server) is copied with its examples,
their calls and its task folder's rows repeated under new ids until it holds --examples examples.
Then the real `smolopt view` serves it, and three times are taken: the first request (results.json
read, bootstrap interval computed), the median of later requests (the run is kept while its files
are unchanged), and the median of a real Chromium opening the page until its load event.
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
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmd import preamble, write_section  # noqa: E402

from smolopt.report import markdown_table  # noqa: E402
from smolopt.view.app import PAGE  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def real_eval_run(work: Path) -> Path:
    env = {**os.environ, "SMOLOPT_RUNS": str(work / "source")}
    subprocess.run([sys.executable, "-m", "smolopt.cli", "eval", "sentiment", "--split", "val", "--quiet"], check=True, env=env)
    return next((work / "source").glob("*-eval-sentiment"))


def repeated(rows: list, n: int, renamed) -> list:
    return [renamed(rows[i % len(rows)], i // len(rows)) for i in range(n)]


def synthetic_run(source: Path, runs: Path, n: int) -> Path:
    """A copy of `source` with `n` examples (ids `<id>-r<k>`), their calls and a task folder that has their rows."""
    config = json.loads((source / "config.json").read_text())
    results = json.loads((source / "results.json").read_text())
    data = {row["id"]: row for row in map(json.loads, (Path(config["task_path"]) / "data.jsonl").read_text().splitlines())}
    target = runs / f"{source.name}-x{n}"
    target.mkdir(parents=True)
    task = runs.parent / "task"
    shutil.copytree(config["task_path"], task)
    examples = repeated(results["examples"], n, lambda e, k: {**e, "id": f"{e['id']}-r{k}"})
    (task / "data.jsonl").write_text("\n".join(json.dumps({**data[e["id"].rsplit("-r", 1)[0]], "id": e["id"]}) for e in examples))
    (target / "results.json").write_text(json.dumps({**results, "examples": examples, "summary": {**results["summary"], "n": n}}))
    (target / "config.json").write_text(json.dumps({**config, "task_path": str(task)}))
    calls = (source / "calls.jsonl").read_text().splitlines()
    (target / "calls.jsonl").write_text("\n".join(repeated(calls, n, lambda line, k: line)) + "\n")
    for name in ("report.md",):
        if (source / name).exists():
            shutil.copy(source / name, target / name)
    return target


def serve(runs: Path) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-m", "smolopt.cli", "view", str(runs), "--port", "0"], stdout=subprocess.PIPE, text=True)
    url = re.search(r"http://127\.0\.0\.1:\d+/", process.stdout.readline()).group(0)
    return process, url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--source", type=Path, default=None, help="an eval run folder to copy (default: run `smolopt eval sentiment --split val`)")
    args = parser.parse_args()
    load = os.getloadavg()[0]  # the machine is shared: say how busy it was
    work = Path(tempfile.mkdtemp(prefix="bench-view-"))
    run = synthetic_run(args.source or real_eval_run(work), work / "runs", args.examples)
    process, url = serve(work / "runs")
    page_url = f"{url}runs/{run.name}/"
    try:
        with httpx.Client(timeout=60) as client:
            start = time.perf_counter()
            first = client.get(page_url)
            cold = time.perf_counter() - start
            first.raise_for_status()
            rows = first.text.count('class="example"')
            assert rows == min(PAGE, args.examples), f"the page shows {rows} examples, not {min(PAGE, args.examples)}"
            warm = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                client.get(page_url).raise_for_status()
                warm.append(time.perf_counter() - start)
        from playwright.sync_api import sync_playwright

        browser_s = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page()
            for _ in range(args.repeats):
                start = time.perf_counter()
                page.goto(page_url, wait_until="load")
                browser_s.append(time.perf_counter() - start)
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=10)
    size_mb = (run / "results.json").stat().st_size / 1e6
    rows = [
        ["first request (results.json read, interval computed)", f"{cold:.3f}"],
        [f"later requests, median of {args.repeats}", f"{statistics.median(warm):.3f}"],
        [f"Chromium opening the page until load, median of {args.repeats}", f"{statistics.median(browser_s):.3f}"],
    ]
    slowest = max(cold, statistics.median(browser_s))
    body = "\n".join([
        f"## View: opening a run of {args.examples} examples",
        "",
        preamble() + f"- run: a real eval run's examples repeated to {args.examples} (results.json {size_mb:.1f} MB), "
        f"the run page lists its examples {PAGE} at a time (the first {PAGE} here); served by `smolopt view`\n"
        f"- load average when it started: {load:.1f} on {os.cpu_count()} cores (other sessions' work)\n"
        f"- target: under 1 s; slowest measure {slowest:.2f} s: {'met' if slowest < 1 else 'MISSED'}",
        "",
        markdown_table(["measure", "seconds"], rows),
    ])
    write_section("bench_view", body)
    print(body)


if __name__ == "__main__":
    main()
